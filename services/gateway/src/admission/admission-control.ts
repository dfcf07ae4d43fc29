import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { AdaptiveLimit } from "./adaptive-limit";

export interface AdmissionSettings {
  /** Unary calls in flight at once, whatever the adaptive limit says: its ceiling. */
  maxCalls: number;
  /** Subscriptions (server-streaming queries) open at once, in all. */
  maxSubscriptions: number;
}

/** Share of the limit that callers holding many calls may fill while others wait: the rest is for the others. */
const SHARED_FRACTION = 0.9;
/** Bounds of the retry hint a refused caller gets, in ms. */
const MIN_RETRY_AFTER_MS = 5;
const MAX_RETRY_AFTER_MS = 1000;

/**
 * Decides, as a call arrives, whether the gateway takes it: the gateway's answer to overload is to refuse the
 * excess at once (RESOURCE_EXHAUSTED, reason OVERLOADED, a retry hint in `grpc-retry-pushback-ms`) rather than
 * queue it. Unary calls are held to the adaptive limit; subscriptions, which last as long as their callers want,
 * to a fixed count. Fairness between callers (HTTP/2 connections): once half of the limit is taken, a caller may
 * hold at most its share — 90% of the limit divided among the callers holding calls — and a caller holding no
 * call is let in whatever the limit, up to its ceiling: a flood on some connections cannot starve a modest caller
 * on another.
 */
export class AdmissionControl {
  private calls = 0;
  private subscriptions = 0;
  private readonly callsByCaller = new Map<string, number>();
  private readonly ceiling: number;

  constructor(
    private readonly limit: AdaptiveLimit,
    private readonly settings: AdmissionSettings,
  ) {
    this.ceiling = settings.maxCalls;
  }

  /** Unary calls in flight now. */
  get callsInFlight(): number {
    return this.calls;
  }

  /** Takes a slot for a unary call of `caller`, or throws the refusal. `release` it once answered. */
  admitCall(caller: string): void {
    const held = this.callsByCaller.get(caller) ?? 0;
    if (held === 0 ? this.calls >= this.ceiling : !this.withinLimit(held)) throw this.refusal(held);
    this.calls += 1;
    this.callsByCaller.set(caller, held + 1);
    if (this.calls >= this.limit.limit) this.limit.noteBinding();
  }

  /**
   * Whether a caller already holding `held` calls may have one more: the adaptive limit binds callers that hold
   * calls. One that holds none is let in up to the ceiling, so a modest caller gets through whatever the others do.
   */
  private withinLimit(held: number): boolean {
    const limit = this.limit.limit;
    if (this.calls >= limit) return false;
    if (this.calls * 2 < limit) return true;
    const share = Math.max(1, Math.floor((limit * SHARED_FRACTION) / this.callsByCaller.size));
    return held < share;
  }

  releaseCall(caller: string): void {
    this.calls -= 1;
    const held = (this.callsByCaller.get(caller) ?? 1) - 1;
    if (held === 0) this.callsByCaller.delete(caller);
    else this.callsByCaller.set(caller, held);
  }

  /** Takes a slot for a subscription, or throws the refusal. `releaseSubscription` once it has ended. */
  admitSubscription(): void {
    if (this.subscriptions >= this.settings.maxSubscriptions) {
      throw this.overloaded(`the gateway holds ${this.subscriptions} subscriptions, its limit (RECQ_MAX_SUBSCRIPTIONS)`);
    }
    this.subscriptions += 1;
  }

  releaseSubscription(): void {
    this.subscriptions -= 1;
  }

  private refusal(held: number): MeshError {
    this.limit.noteBinding();
    const why =
      held === 0 || this.calls >= this.limit.limit
        ? `the gateway has ${this.calls} calls in flight, at its limit of ${held === 0 ? this.ceiling : this.limit.limit} now`
        : `this connection holds ${held} calls, its share of the gateway's limit of ${this.limit.limit} now`;
    return this.overloaded(why);
  }

  private overloaded(why: string): MeshError {
    return new MeshError(status.RESOURCE_EXHAUSTED, `overloaded: ${why}; retry later`, Reason.OVERLOADED, { retryAfterMs: this.retryAfterMs() });
  }

  /** About one round trip, jittered by ±25% so that refused callers do not all come back at once. */
  private retryAfterMs(): number {
    const typical = this.limit.typicalRoundTripMs;
    const jittered = typical * (0.75 + Math.random() / 2);
    return Math.round(Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, jittered)));
  }
}
