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
/** A caller holding no call may go this far past the adaptive limit (a fraction of it), never past the ceiling. */
const NEWCOMER_RESERVE = 0.1;
/** Bounds of the retry hint a refused caller gets, in ms. */
const MIN_RETRY_AFTER_MS = 5;
const MAX_RETRY_AFTER_MS = 1000;

/**
 * Decides, as a call arrives, whether the gateway takes it: the gateway's answer to overload is to refuse the
 * excess at once (RESOURCE_EXHAUSTED, reason OVERLOADED, a retry hint in `grpc-retry-pushback-ms`) rather than
 * queue it. Unary calls are held to the adaptive limit; subscriptions, which last as long as their callers want,
 * to a fixed count. Fairness between callers (HTTP/2 connections): once half of the limit is taken, a caller may
 * hold at most its share — 90% of the limit divided among the callers holding calls — and a caller holding no
 * call may use a reserve of another 10% above the limit: a flood on some connections cannot starve a modest caller
 * on another, and a flood spread over many connections of one call each is still held to the limit and its reserve.
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
    if (held === 0 ? !this.withinReserve() : !this.withinLimit(held)) throw this.refusal(held);
    this.calls += 1;
    this.callsByCaller.set(caller, held + 1);
    if (this.calls >= this.limit.limit) this.limit.noteBinding();
  }

  /** Whether a caller holding no call may come in: up to the limit and its reserve, never past the ceiling. */
  private withinReserve(): boolean {
    const limit = this.limit.limit;
    return this.calls < Math.min(this.ceiling, limit + Math.max(1, Math.floor(limit * NEWCOMER_RESERVE)));
  }

  /** Whether a caller already holding `held` calls may have one more: within the limit, and its share of it. */
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
    const limit = this.limit.limit;
    const why =
      held === 0
        ? `the gateway has ${this.calls} calls in flight, past its limit of ${limit} and the reserve for new callers`
        : this.calls >= limit
          ? `the gateway has ${this.calls} calls in flight, at its limit of ${limit} now`
          : `this connection holds ${held} calls, its share of the gateway's limit of ${limit} now`;
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
