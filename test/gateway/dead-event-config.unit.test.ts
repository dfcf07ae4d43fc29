import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { defaultLimits, loadGatewayConfig } from "@recq-mesh/gateway";

describe("the dead-event queue's gateway settings", () => {
  it("defaults to 10,000 parked events per consumer and pages of 100", () => {
    assert.equal(defaultLimits.maxParkedEventsPerConsumer, 10_000);
    assert.equal(defaultLimits.deadEventPageSize, 100);
  });

  it("reads RECQ_MAX_PARKED_EVENTS_PER_CONSUMER and RECQ_DEAD_EVENT_PAGE_SIZE: 1 at least", () => {
    const { limits } = loadGatewayConfig([], { RECQ_MAX_PARKED_EVENTS_PER_CONSUMER: "1", RECQ_DEAD_EVENT_PAGE_SIZE: "1" });
    assert.equal(limits.maxParkedEventsPerConsumer, 1);
    assert.equal(limits.deadEventPageSize, 1);
    for (const name of ["RECQ_MAX_PARKED_EVENTS_PER_CONSUMER", "RECQ_DEAD_EVENT_PAGE_SIZE"]) {
      assert.throws(() => loadGatewayConfig([], { [name]: "0" }), new RegExp(`${name} must be an integer of at least 1`));
    }
  });
});
