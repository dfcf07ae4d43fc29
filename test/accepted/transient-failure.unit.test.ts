import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { describe, test } from "@jest/globals";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { isTransientFailure } from "@recq-mesh/gateway/internal/accepted/transient-failure";

describe("which failures of an accepted command are tried again", () => {
  test("no handler, a lost handler, the store away, conflicts, full queues and an attempt's deadline are transient", () => {
    for (const [code, reason] of [
      [status.UNAVAILABLE, Reason.NO_HANDLER],
      [status.UNAVAILABLE, Reason.HANDLER_LOST],
      [status.UNAVAILABLE, Reason.STORE_UNAVAILABLE],
      [status.ABORTED, Reason.AGGREGATE_CONFLICT],
      [status.RESOURCE_EXHAUSTED, Reason.QUEUE_FULL],
      [status.RESOURCE_EXHAUSTED, Reason.NO_PERMITS],
      [status.DEADLINE_EXCEEDED, Reason.DEADLINE_EXCEEDED],
    ] as const) {
      assert.equal(isTransientFailure(new MeshError(code, "x", reason)), true, `${status[code]} ${reason}`);
    }
  });

  test("the domain's decisions, an invalid reply and a message too large for the link are final", () => {
    for (const [code, reason] of [
      [status.NOT_FOUND, Reason.DOMAIN_RULE],
      [status.FAILED_PRECONDITION, Reason.DOMAIN_RULE],
      [status.INVALID_ARGUMENT, Reason.INVALID_REQUEST],
      [status.INTERNAL, Reason.INVALID_HANDLER_REPLY],
      [status.RESOURCE_EXHAUSTED, Reason.MESSAGE_TOO_LARGE],
    ] as const) {
      assert.equal(isTransientFailure(new MeshError(code, "x", reason)), false, `${status[code]} ${reason}`);
    }
  });
});
