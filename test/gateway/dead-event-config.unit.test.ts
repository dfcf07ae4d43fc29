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

  it("keeps 4 KiB of a parked event's error by default, and reads RECQ_MAX_PARKED_ERROR_BYTES: 64 at least", () => {
    assert.equal(defaultLimits.maxParkedErrorBytes, 4_096);
    assert.equal(loadGatewayConfig([], { RECQ_MAX_PARKED_ERROR_BYTES: "64" }).limits.maxParkedErrorBytes, 64);
    assert.throws(() => loadGatewayConfig([], { RECQ_MAX_PARKED_ERROR_BYTES: "63" }), /RECQ_MAX_PARKED_ERROR_BYTES must be an integer of at least 64/);
  });
});
