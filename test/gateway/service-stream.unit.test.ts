import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { appendStreamOf, isServiceStream } from "@recq-mesh/gateway/internal/commands/service-stream";

describe("the stream a command's events are appended to", () => {
  it("is the aggregate's, at the sequence decided on, for a command with a routing key", () => {
    const stream = appendStreamOf("list-1", 3, "cmd-1", 2, true);
    assert.deepEqual(stream, { aggregateId: "list-1", expectedSequence: 3 });
    assert.equal(isServiceStream("list-1", stream), false);
  });

  it("is the command id's own, from sequence 0, for a service command that emitted events", () => {
    const stream = appendStreamOf("", 0, "cmd-2", 1, false);
    assert.deepEqual(stream, { aggregateId: "cmd-2", expectedSequence: 0 });
    assert.equal(isServiceStream("", stream), true);
  });

  it("is none (an outcome only) for a service command that emitted nothing", () => {
    const stream = appendStreamOf("", 0, "cmd-3", 0, false);
    assert.deepEqual(stream, { aggregateId: "", expectedSequence: 0 });
    assert.equal(isServiceStream("", stream), false);
  });

  it("refuses a service's reply with a snapshot: a service has no state", () => {
    assert.throws(
      () => appendStreamOf("", 0, "cmd-4", 1, true),
      (error: unknown) => error instanceof MeshError && error.code === status.INTERNAL && error.reason === Reason.INVALID_HANDLER_REPLY && /no aggregate state/.test(error.message),
    );
  });
});
