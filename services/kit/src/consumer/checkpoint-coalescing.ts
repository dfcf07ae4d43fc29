import type { CheckpointStore } from "./checkpoint-store";

/**
 * How an observer or a saga writes its checkpoint (docs/components.md, "Checkpoints of observers and sagas"). Their
 * work does not commit with the checkpoint, and an event delivered again does nothing twice, so the checkpoint need
 * not be durable per event: the latest position handled is written at most `intervalMs` after the first event it
 * covers, or as soon as `maxEvents` events wait for it, whichever comes first; and always at a clean stop, a pause,
 * and before a failure is reported for parking. A crash redelivers at most `maxEvents` handled events.
 */
export interface CheckpointCoalescing {
  /** The longest an event handled waits for the checkpoint write that covers it; 0: a durable write per event. Default 100 ms. */
  intervalMs: number;
  /** Events handled and not yet durably checkpointed, at most: the handler waits for the write at this count. Default 100. */
  maxEvents: number;
}

export const DEFAULT_CHECKPOINT_COALESCING: CheckpointCoalescing = { intervalMs: 100, maxEvents: 100 };
export const MAX_CHECKPOINT_INTERVAL_MS = 60_000;
export const MAX_CHECKPOINT_EVENTS = 100_000;

/** The settings with their defaults, checked: a bad value throws at configuration. */
export function checkpointCoalescing(given: Partial<CheckpointCoalescing> | undefined): CheckpointCoalescing {
  const settings = { ...DEFAULT_CHECKPOINT_COALESCING, ...given };
  if (!Number.isSafeInteger(settings.intervalMs) || settings.intervalMs < 0 || settings.intervalMs > MAX_CHECKPOINT_INTERVAL_MS) {
    throw new Error(`checkpointCoalescing.intervalMs must be an integer from 0 to ${MAX_CHECKPOINT_INTERVAL_MS}, got ${settings.intervalMs}`);
  }
  if (!Number.isSafeInteger(settings.maxEvents) || settings.maxEvents < 1 || settings.maxEvents > MAX_CHECKPOINT_EVENTS) {
    throw new Error(`checkpointCoalescing.maxEvents must be an integer from 1 to ${MAX_CHECKPOINT_EVENTS}, got ${settings.maxEvents}`);
  }
  return settings;
}

/**
 * One consumer's checkpoint in a CheckpointStore, its writes coalesced as `CheckpointCoalescing` says. Writes are
 * serialised (a FileCheckpointStore writes one temporary file per consumer), and run beside the handling of the
 * next events rather than in their way.
 */
export class CoalescedCheckpoint {
  /** The latest position handled: what the next write makes durable. */
  private latest = 0;
  /** The position the store holds, as far as this process has written or read it. */
  private durable = 0;
  private loaded = false;
  /** Events handled (advances) so far, and how many of them the store's position covers. */
  private advanced = 0;
  private covered = 0;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /**
   * A write the timer started that failed: the next advance throws it (that event is then tried again), so a store
   * that keeps failing stops the consumer as a write per event would; a later write that succeeds supersedes it.
   */
  private failure: Error | undefined;

  constructor(
    private readonly store: CheckpointStore,
    private readonly consumer: string,
    private readonly settings: CheckpointCoalescing,
  ) {}

  /**
   * Where delivery resumes: the store's position at first, then the latest handled (a reconnect of this process
   * need not redeliver what it handled and has not written yet).
   */
  async read(): Promise<number> {
    if (this.loaded) return this.latest;
    this.durable = await this.store.read(this.consumer);
    this.latest = Math.max(this.latest, this.durable);
    this.loaded = true;
    return this.latest;
  }

  /** Notes `position` handled; resolves once it is durable if the settings say so now (per event, or at `maxEvents`). */
  async advance(position: number): Promise<void> {
    this.throwFailure();
    if (position <= this.latest) return;
    this.latest = position;
    this.advanced += 1;
    if (this.settings.intervalMs === 0 || this.advanced - this.covered >= this.settings.maxEvents) return this.flush();
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((error: unknown) => (this.failure = error instanceof Error ? error : new Error(String(error))));
    }, this.settings.intervalMs).unref();
  }

  /** Makes the latest position handled durable; resolves once the store holds it. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.catch(() => undefined).then(() => this.writeLatest());
    return this.writing;
  }

  private async writeLatest(): Promise<void> {
    // This write covers what the failed one did: a drain's flush writes rather than reporting an old failure.
    this.failure = undefined;
    const position = this.latest;
    const advanced = this.advanced;
    if (position <= this.durable) return;
    await this.store.write(this.consumer, position);
    this.durable = position;
    this.covered = advanced;
  }

  private throwFailure(): void {
    const failure = this.failure;
    if (failure === undefined) return;
    this.failure = undefined;
    throw failure;
  }
}
