/** How the adaptive limit moves. */
export interface AdaptiveLimitSettings {
  /** The limit's start and ceiling. */
  maxLimit: number;
  /** Its floor: enough calls in flight to keep a handler busy however slow its round trips look. */
  minLimit: number;
  /** A round trip up to this many times its method's usual one is not congestion (2 = twice as long). */
  tolerance: number;
  /** One measurement window, in ms: the limit moves at most once per window. */
  windowMs: number;
  /** Round trips a window needs before it closes and may move the limit: fewer say nothing reliable. */
  minSamples: number;
  /** Told each time the limit moves, with what moved it: for the gateway's debug log. */
  onChange?: (change: LimitChange) => void;
}

export interface LimitChange {
  limit: number;
  previous: number;
  medianRatio: number;
  medianRoundTripMs: number;
}

/** Samples kept per window, at most: enough for a median, and a fixed cost whatever the rate. */
const MAX_SAMPLES_PER_WINDOW = 1024;
/** A cut never takes more than half of the limit at once. */
const MIN_GRADIENT = 0.5;

/**
 * A concurrency limit that follows how long dispatches take, after the gradient controller of Envoy's adaptive
 * concurrency filter and Netflix's Gradient2 limiter. Each window, the median of the round trips' ratios to
 * their method's usual round trip (see `RoundTripBaselines`) says whether calls queue somewhere — in the
 * gateway, on the link, in the handler: past `tolerance` the limit is cut in proportion (at most by half);
 * within it, and if the limit was what held calls back, it grows by its square root. As in TCP, a cut
 * waits for round trips of calls sent after the last one: the calls that saw one stall (a GC pause, a slow disk
 * sync) come back over several windows, and must not cut the limit once per window. It starts at its ceiling, so
 * a mesh that is not overloaded never refuses a call.
 */
export class AdaptiveLimit {
  private current: number;
  private windowStart: number | undefined;
  private readonly ratios = new Float64Array(MAX_SAMPLES_PER_WINDOW);
  private readonly roundTrips = new Float64Array(MAX_SAMPLES_PER_WINDOW);
  private samples = 0;
  private binding = false;
  private medianRoundTrip = 0;
  /** When the limit was last cut: round trips of calls sent before then say nothing about the cut limit. */
  private lastCutAt = -Infinity;

  constructor(private readonly settings: AdaptiveLimitSettings) {
    if (settings.minLimit < 1 || settings.minLimit > settings.maxLimit) throw new Error("the adaptive limit needs 1 <= minLimit <= maxLimit");
    if (!(settings.tolerance >= 1)) throw new Error("the adaptive limit's tolerance must be at least 1");
    this.current = settings.maxLimit;
  }

  /** Calls that may be in flight now. */
  get limit(): number {
    return this.current;
  }

  /** The median round trip of the last full window, in ms (0 before one): what a refused caller should wait. */
  get typicalRoundTripMs(): number {
    return this.medianRoundTrip;
  }

  /** The limit held a call back (refused it, or calls in flight reached it): it may grow if round trips allow. */
  noteBinding(): void {
    this.binding = true;
  }

  /** One dispatch's round trip: `ratio` to its method's usual one, `roundTripMs` itself, at `nowMs`. */
  onSample(ratio: number, roundTripMs: number, nowMs: number): void {
    this.windowStart ??= nowMs;
    if (nowMs - roundTripMs < this.lastCutAt) return;
    if (this.samples < MAX_SAMPLES_PER_WINDOW) {
      this.ratios[this.samples] = ratio;
      this.roundTrips[this.samples] = roundTripMs;
      this.samples += 1;
    }
    // A window lasts until it has both its time and its samples: at a low rate, it simply lasts longer.
    if (nowMs - this.windowStart >= this.settings.windowMs && this.samples >= this.settings.minSamples) this.closeWindow(nowMs);
  }

  private closeWindow(nowMs: number): void {
    const medianRatio = median(this.ratios, this.samples);
    this.medianRoundTrip = median(this.roundTrips, this.samples);
    const previous = this.current;
    this.current = this.next(medianRatio);
    if (this.current < previous) this.lastCutAt = nowMs;
    if (this.current !== previous) this.settings.onChange?.({ limit: this.current, previous, medianRatio, medianRoundTripMs: this.medianRoundTrip });
    this.samples = 0;
    this.binding = false;
    this.windowStart = nowMs;
  }

  private next(medianRatio: number): number {
    const { minLimit, maxLimit, tolerance } = this.settings;
    if (medianRatio > tolerance) {
      const gradient = Math.max(MIN_GRADIENT, tolerance / medianRatio);
      return Math.max(minLimit, Math.floor(this.current * gradient));
    }
    if (!this.binding) return this.current;
    return Math.min(maxLimit, this.current + Math.ceil(Math.sqrt(this.current)));
  }
}

/** The median of the first `count` values (sorts them in place: they are a window's scratch space). */
function median(values: Float64Array, count: number): number {
  const window = values.subarray(0, count).sort();
  const middle = count >> 1;
  return count % 2 === 1 ? window[middle]! : (window[middle - 1]! + window[middle]!) / 2;
}
