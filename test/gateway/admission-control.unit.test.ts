import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/protocol";
import { AdaptiveLimit } from "@recq-mesh/gateway/internal/admission/adaptive-limit";
import { AdmissionControl } from "@recq-mesh/gateway/internal/admission/admission-control";

function fixed(limit: number, maxSubscriptions = 5): AdmissionControl {
  const adaptive = new AdaptiveLimit({ maxLimit: limit, minLimit: limit, tolerance: 2, windowMs: 100, minSamples: 10 });
  return new AdmissionControl(adaptive, { maxCalls: limit, maxSubscriptions });
}

function refusal(admit: () => void): MeshError {
  try {
    admit();
  } catch (error) {
    assert.ok(error instanceof MeshError);
    return error;
  }
  throw new Error("admitted, but it should have been refused");
}

describe("AdmissionControl", () => {
  it("lets callers hold up to the limit, and refuses the next with OVERLOADED and a retry hint", () => {
    const admission = fixed(10);
    for (let i = 0; i < 9; i++) admission.admitCall("a");
    admission.admitCall("b");
    assert.equal(admission.callsInFlight, 10);
    const refused = refusal(() => admission.admitCall("c"));
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
    assert.equal(refused.reason, "OVERLOADED");
    assert.match(refused.message, /10 calls in flight, past its limit of 10 and the reserve/);
    assert.ok(refused.retryAfterMs !== undefined && refused.retryAfterMs >= 5 && refused.retryAfterMs <= 1000);
    assert.equal(refused.toStatus().metadata?.get("grpc-retry-pushback-ms")[0], String(refused.retryAfterMs));
    admission.releaseCall("a");
    admission.admitCall("c");
  });

  it("keeps a tenth of the limit from a caller that holds the rest", () => {
    const admission = fixed(10);
    for (let i = 0; i < 9; i++) admission.admitCall("flood");
    const refused = refusal(() => admission.admitCall("flood"));
    assert.match(refused.message, /this connection holds 9 calls, its share/);
    admission.admitCall("modest");
  });

  it("shares the limit among the callers holding calls once half of it is taken", () => {
    const admission = fixed(20);
    for (let i = 0; i < 9; i++) admission.admitCall("a");
    for (let i = 0; i < 2; i++) admission.admitCall("b");
    // 11 of 20 held, two callers: each may hold floor(18 / 2) = 9.
    assert.throws(() => admission.admitCall("a"), /its share/);
    for (let i = 0; i < 7; i++) admission.admitCall("b");
    assert.throws(() => admission.admitCall("b"), /its share/);
  });

  it("lets a caller holding nothing use a reserve of a tenth above the adaptive limit, never past the ceiling", () => {
    const adaptive = new AdaptiveLimit({ maxLimit: 100, minLimit: 4, tolerance: 2, windowMs: 100, minSamples: 1 });
    adaptive.onSample(100, 100, 0);
    adaptive.onSample(100, 100, 100);
    assert.equal(adaptive.limit, 50);
    const admission = new AdmissionControl(adaptive, { maxCalls: 100, maxSubscriptions: 1 });
    for (let i = 0; i < 45; i++) admission.admitCall("flood");
    for (let i = 0; i < 5; i++) admission.admitCall(`modest-${i}`);
    assert.throws(() => admission.admitCall("flood"), /50 calls in flight, at its limit of 50/);
    assert.throws(() => admission.admitCall("modest-0"), /at its limit of 50/);
    for (let i = 0; i < 5; i++) admission.admitCall(`newcomer-${i}`);
    assert.throws(() => admission.admitCall("newcomer-5"), /55 calls in flight, past its limit of 50 and the reserve for new callers/);
  });

  it("holds newcomers to the ceiling even when the reserve would reach past it", () => {
    const admission = fixed(10);
    for (let i = 0; i < 10; i++) admission.admitCall(`caller-${i}`);
    assert.throws(() => admission.admitCall("caller-10"), /10 calls in flight, past its limit of 10/);
  });

  it("counts subscriptions apart, to their own limit", () => {
    const admission = fixed(1, 2);
    admission.admitSubscription();
    admission.admitSubscription();
    admission.admitCall("a");
    const refused = refusal(() => admission.admitSubscription());
    assert.equal(refused.reason, "OVERLOADED");
    assert.match(refused.message, /2 subscriptions, its limit \(RECQ_MAX_SUBSCRIPTIONS\)/);
    admission.releaseSubscription();
    admission.admitSubscription();
  });
});
