/** An aggregate's appends that are ordered but not yet durable. */
interface PendingAggregate {
  /** The aggregate's sequence once they are all durable. */
  sequence: number;
  count: number;
  /** Settles (never rejects) when the latest of them is durable or failed. */
  settled: Promise<void>;
}

/**
 * Positions and sequences taken by appends that are ordered but not yet durable. The conflict check reads through
 * it, so of two appends with the same expected sequence the second conflicts even while the first is being synced,
 * and positions are handed out in the order the journal will hold them.
 */
export class PendingAppends {
  private readonly aggregates = new Map<string, PendingAggregate>();
  private reservedHead: number;

  constructor(committedHead: number) {
    this.reservedHead = committedHead;
  }

  /** The head once every ordered append is durable. */
  get head(): number {
    return this.reservedHead;
  }

  /** The aggregate's sequence including pending appends, or undefined when none is pending. */
  sequenceOf(key: string): number | undefined {
    return this.aggregates.get(key)?.sequence;
  }

  /** Resolves when the aggregate's pending appends have settled; undefined when none is pending. */
  settledFor(key: string): Promise<void> | undefined {
    return this.aggregates.get(key)?.settled;
  }

  /** Takes the next `eventCount` positions; returns the last one (the current head when `eventCount` is 0). */
  takePositions(eventCount: number): number {
    this.reservedHead += eventCount;
    return this.reservedHead;
  }

  /** Takes the aggregate's sequence up to `sequence`. */
  takeSequence(key: string, sequence: number, settled: Promise<void>): void {
    const pending = this.aggregates.get(key);
    if (pending === undefined) {
      this.aggregates.set(key, { sequence, count: 1, settled });
      return;
    }
    pending.sequence = sequence;
    pending.count += 1;
    pending.settled = settled;
  }

  /** One of the aggregate's appends is durable: from now on the committed index answers for it. */
  release(key: string): void {
    const pending = this.aggregates.get(key);
    if (pending === undefined) return;
    pending.count -= 1;
    if (pending.count === 0) this.aggregates.delete(key);
  }

  /** A write failed and every pending append with it: the committed index is the whole truth again. */
  reset(committedHead: number): void {
    this.aggregates.clear();
    this.reservedHead = committedHead;
  }
}
