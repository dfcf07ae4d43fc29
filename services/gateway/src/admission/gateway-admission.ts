import { performance } from "node:perf_hooks";
import type { Logger } from "@recq-mesh/protocol";
import type { GatewayLimits } from "../config";
import type { RoundTripObserver } from "../routing/dispatcher";
import { AdaptiveLimit } from "./adaptive-limit";
import { AdmissionControl } from "./admission-control";
import { RoundTripBaselines } from "./round-trip-baselines";

/** One measurement window: the limit moves at most ten times a second, on at least 10 round trips. */
const WINDOW_MS = 100;
const MIN_SAMPLES = 10;
/** A method's usual round trip: per-second averages folded into an average over about five minutes. */
const BASELINES = { bucketMs: 1000, span: 300, warmUp: 10 };

/** The gateway's admission control, and the observer that feeds it each dispatch's round trip. */
export function admissionControl(limits: GatewayLimits, logger: Logger): { admission: AdmissionControl; onRoundTrip: RoundTripObserver } {
  const limit = new AdaptiveLimit({
    maxLimit: limits.maxCallsInFlight,
    // The default floor (32) under a ceiling set lower: the limit is simply fixed at the ceiling.
    minLimit: Math.min(limits.minCallsInFlight, limits.maxCallsInFlight),
    tolerance: limits.admissionTolerancePercent / 100,
    windowMs: WINDOW_MS,
    minSamples: MIN_SAMPLES,
    onChange: (change) => logger.debug("admission limit moved", { ...change }),
  });
  const baselines = new RoundTripBaselines(BASELINES);
  const onRoundTrip: RoundTripObserver = (method, roundTripMs) => {
    const now = performance.now();
    const ratio = baselines.ratio(method, roundTripMs, now);
    if (!Number.isNaN(ratio)) limit.onSample(ratio, roundTripMs, now);
  };
  return { admission: new AdmissionControl(limit, { maxCalls: limits.maxCallsInFlight, maxSubscriptions: limits.maxSubscriptions }), onRoundTrip };
}
