/**
 * Coalesces the frames written to a stream in one turn of the event loop into one stream message.
 *
 * Measured on a bare routing prototype (2 cores, h2load): one stream message per call costs the gateway ~117 µs a call,
 * batching in both directions ~68 µs. `setImmediate` runs after the I/O callbacks of the current loop
 * iteration, so every frame produced while handling one burst of input leaves in one message. A batch that
 * reaches `maxFrames` or `maxBytes` leaves at once, and a frame that would take a batch past `maxBytes` starts the
 * next one: with `sizeOf` an upper bound, a message holds at most `maxBytes`, or one frame larger than that.
 */
export interface FrameBatcherOptions<F> {
  /** Writes one batch as one stream message. */
  send: (frames: F[]) => void;
  /** An upper bound of a frame's encoded size in the stream message; used only to bound a batch. */
  sizeOf: (frame: F) => number;
  maxFrames?: number;
  /** The bound of a batch's bytes: at most the peer's receive limit. */
  maxBytes?: number;
}

export const DEFAULT_MAX_BATCH_FRAMES = 512;
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;

export class FrameBatcher<F> {
  private frames: F[] = [];
  private bytes = 0;
  private scheduled: NodeJS.Immediate | undefined;
  private readonly maxFrames: number;
  /** May be lowered once the peer has said what it accepts (it says so on the stream the batches travel on). */
  maxBytes: number;

  constructor(private readonly options: FrameBatcherOptions<F>) {
    this.maxFrames = options.maxFrames ?? DEFAULT_MAX_BATCH_FRAMES;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BATCH_BYTES;
  }

  push(frame: F): void {
    const size = this.options.sizeOf(frame);
    if (this.frames.length > 0 && this.bytes + size > this.maxBytes) this.flush();
    this.frames.push(frame);
    this.bytes += size;
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
