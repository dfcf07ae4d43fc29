/** One method's long-term average round trip, fed a bucket (one second, say) at a time. */
interface MethodAverage {
  /** The long-term average in ms; NaN until the first bucket has closed. */
  average: number;
  /** Buckets folded into the average so far (up to the warm-up count, then no longer counted). */
  folded: number;
  bucket: number;
  bucketSum: number;
  bucketCount: number;
}

export interface BaselineSettings {
  /** Round trips are averaged per bucket of this many ms, and the buckets folded into the long-term average. */
  bucketMs: number;
  /** How many buckets the long-term average spans (its exponential weight is 1 / span). */
  span: number;
  /** The first buckets are averaged plainly, so that the first seconds do not weigh for minutes. */
  warmUp: number;
}

/** When the current bucket's round trips fall to less than half of the average, it follows them faster. */
const FAST_DECAY = 0.95;
/**
 * A bucket counts for at most this many times the average: a second of overload (round trips a hundred times the
 * usual) must not move the baseline by a third in one step, or a minute of overload would make itself usual.
 */
const MAX_FOLDED_RATIO = 2;
/**
 * In the warm-up a bucket counts for at most this many times the average so far. The first seconds may be
 * unrepresentative (cold code, empty caches), so the average may still move fast — up to about 70× over ten
 * warm-up seconds — but a flood that starts in them must not become the usual round trip: uncapped, a gateway
 * flooded in its first seconds learnt the flood's round trips as usual and barely cut its limit.
 */
const MAX_WARM_UP_FOLDED_RATIO = 4;

/**
 * Each method's usual round trip: a long-term (minutes) average of its dispatches, after Netflix's Gradient2,
 * against which a window's round trips are read. Per method, because a gateway serves fast queries and slow
 * commands side by side, and one baseline for both would read every command as congestion. An average over
 * minutes, not a minimum, because a loaded mesh that keeps up has longer round trips than an idle one (batching,
 * a busier event loop) without any queue growing; over minutes, and with each second's weight capped, so that an
 * overload of a minute barely moves it.
 */
export class RoundTripBaselines {
  private readonly methods = new Map<string, MethodAverage>();

  constructor(private readonly settings: BaselineSettings) {}

  /**
   * Records `roundTripMs` for `method` and answers its ratio to the method's usual round trip — NaN during the
   * method's first bucket, when it has no usual round trip yet to be read against.
   */
  ratio(method: string, roundTripMs: number, nowMs: number): number {
    const entry = this.entryOf(method, Math.floor(nowMs / this.settings.bucketMs));
    entry.bucketSum += roundTripMs;
    entry.bucketCount += 1;
    // A round trip of 0 ms (a coarse clock) would make every ratio infinite: a tenth of a millisecond is the floor.
    return roundTripMs / Math.max(entry.average, 0.1);
  }

  /** The method's usual round trip in ms (NaN before its first bucket closed): for tests and metrics. */
  baselineOf(method: string): number {
    return this.methods.get(method)?.average ?? Number.NaN;
  }

  private entryOf(method: string, bucket: number): MethodAverage {
    let entry = this.methods.get(method);
    if (entry === undefined) {
      entry = { average: Number.NaN, folded: 0, bucket, bucketSum: 0, bucketCount: 0 };
      this.methods.set(method, entry);
    }
    if (bucket !== entry.bucket) {
      if (entry.bucketCount > 0) this.fold(entry, entry.bucketSum / entry.bucketCount);
      entry.bucket = bucket;
      entry.bucketSum = 0;
      entry.bucketCount = 0;
    }
    return entry;
  }

  private fold(entry: MethodAverage, bucketAverage: number): void {
    if (entry.folded < this.settings.warmUp) {
      entry.folded += 1;
      if (Number.isNaN(entry.average)) entry.average = bucketAverage;
      else entry.average += (Math.min(bucketAverage, MAX_WARM_UP_FOLDED_RATIO * entry.average) - entry.average) / entry.folded;
      return;
    }
    const folded = Math.min(bucketAverage, MAX_FOLDED_RATIO * entry.average);
    entry.average += (folded - entry.average) / this.settings.span;
    if (entry.average > 2 * bucketAverage) entry.average *= FAST_DECAY;
  }
}
