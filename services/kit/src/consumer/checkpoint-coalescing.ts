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
   * The last write failed: the next advance writes before it counts its event, and a failure then fails that event
   * (tried again, then parked), so a store that keeps failing stops the consumer as a write per event would.
   */
  private failed = false;

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
    if (position > this.latest) {
      this.latest = position;
      this.advanced += 1;
    }
    // Checked whether or not the position moved: an event tried again after its write failed must write again,
    // not count as handled with nothing durable.
    const due = this.settings.intervalMs === 0 || this.failed || this.advanced - this.covered >= this.settings.maxEvents;
    if (due) return this.flush();
    if (this.latest <= this.durable) return;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      // Its failure is not lost: `failed` makes the next advance write (and fail its event if the store still fails).
      this.flush().catch(() => undefined);
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
    const position = this.latest;
    const advanced = this.advanced;
    if (position <= this.durable) {
      this.failed = false;
      return;
    }
    try {
      await this.store.write(this.consumer, position);
    } catch (error) {
      this.failed = true;
      throw error;
    }
    this.failed = false;
    this.durable = position;
    this.covered = advanced;
  }
}
