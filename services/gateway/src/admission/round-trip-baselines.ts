/** One method's recent minima: a ring of per-bucket minimum round trips. */
interface MethodMinima {
  minima: Float64Array;
  /** The bucket (time / bucketMs) the ring's current slot belongs to. */
  bucket: number;
  slot: number;
}

/**
 * Each method's usual round trip: the minimum of its dispatches over a sliding window (`buckets` × `bucketMs`).
 * Per method, because a gateway serves fast queries and slow commands side by side, and one baseline for both
 * would read every command as congestion. The minimum, because it is the round trip without queueing; a window,
 * so that a method that became slower for good (a bigger view, a slower database) gets a new baseline.
 */
export class RoundTripBaselines {
  private readonly methods = new Map<string, MethodMinima>();

  constructor(
    private readonly bucketMs: number,
    private readonly buckets: number,
  ) {}

  /** Records `roundTripMs` for `method` and answers its ratio to the method's baseline (1 for the fastest). */
  ratio(method: string, roundTripMs: number, nowMs: number): number {
    const minima = this.minimaOf(method, Math.floor(nowMs / this.bucketMs));
    if (roundTripMs < minima.minima[minima.slot]!) minima.minima[minima.slot] = roundTripMs;
    let baseline = Infinity;
    for (const value of minima.minima) if (value < baseline) baseline = value;
    // A round trip of 0 ms (a coarse clock) would make every ratio infinite: a tenth of a millisecond is the floor.
    return roundTripMs / Math.max(baseline, 0.1);
  }

  private minimaOf(method: string, bucket: number): MethodMinima {
    let entry = this.methods.get(method);
    if (entry === undefined) {
      entry = { minima: new Float64Array(this.buckets).fill(Infinity), bucket, slot: 0 };
      this.methods.set(method, entry);
    }
    // Forget the buckets that slid out of the window since the last round trip of this method.
    const elapsed = Math.min(bucket - entry.bucket, this.buckets);
    for (let step = 0; step < elapsed; step++) {
      entry.slot = (entry.slot + 1) % this.buckets;
      entry.minima[entry.slot] = Infinity;
    }
    entry.bucket = bucket;
    return entry;
  }
}
