import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/protocol";
import { CallSignal } from "@recq-mesh/gateway/internal/server/call-signal";

/** What CallSignal uses of a grpc-js server call: its deadline and its 'cancelled' event. */
class FakeCall extends EventEmitter {
  constructor(private readonly deadline: Date | number) {
    super();
  }
  getDeadline(): Date | number {
    return this.deadline;
  }
}

const reasonOf = (signal: CallSignal): MeshError => signal.reason as MeshError;

describe("CallSignal", () => {
  it("ends a call without a deadline at the gateway's limit, naming the limit", async () => {
    const signal = new CallSignal(new FakeCall(Infinity), 30);
    assert.equal(signal.deadlineMs, 0, "no deadline is passed on to the handler");
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(signal.aborted, true);
    assert.equal(reasonOf(signal).code, status.DEADLINE_EXCEEDED);
    assert.match(reasonOf(signal).message, /limit of 30 ms for calls without a deadline/);
    signal.cleanup();
  });

  it("leaves a caller's deadline to grpc-js, and names its 'cancelled' at the deadline DEADLINE_EXCEEDED", async () => {
    const call = new FakeCall(new Date(Date.now() + 30));
    const signal = new CallSignal(call, 10);
    assert.ok(signal.deadlineMs > 0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(signal.aborted, false, "no timer of its own: grpc-js keeps the caller's deadline");
    call.emit("cancelled");
    assert.equal(reasonOf(signal).code, status.DEADLINE_EXCEEDED);
  });

  it("names a 'cancelled' well before the deadline CANCELLED", () => {
    const call = new FakeCall(new Date(Date.now() + 60_000));
    const signal = new CallSignal(call, 10);
    call.emit("cancelled");
    assert.equal(reasonOf(signal).code, status.CANCELLED);
    signal.cleanup();
  });

  it("stops listening and timing on cleanup", async () => {
    const call = new FakeCall(Infinity);
    const signal = new CallSignal(call, 20);
    assert.equal(call.listenerCount("cancelled"), 1);
    signal.cleanup();
    assert.equal(call.listenerCount("cancelled"), 0);
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(signal.aborted, false);
  });
});
