import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { MongoNetworkError, MongoServerError, MongoWriteConcernError } from "mongodb";
import type { AppendRequest } from "@recq-mesh/gateway/internal/store/event-store";
import { aggregateKey } from "@recq-mesh/gateway/internal/store/event-index";
import { batchWrites, measureAppend, planAppends, type QueuedAppend } from "@recq-mesh/gateway/internal/store/mongo-append-plan";
import { CommitTimeoutError } from "@recq-mesh/gateway/internal/store/mongo-append-transaction";
import { commitResultUnknown, settleAppends } from "@recq-mesh/gateway/internal/store/mongo-unknown-commit";

function queued(aggregateId: string, expectedSequence: number, commandId: string, eventCount: number): QueuedAppend {
  const events = Array.from({ length: eventCount }, (_, n) => ({ type: "test.v1.Happened", payload: Buffer.from(`${commandId}/${n}`), metadata: {} }));
  const request: AppendRequest = { aggregateType: "Test", aggregateId, expectedSequence, commandId, events };
  return { request, timeMs: 1_000, bytes: measureAppend(request).bytes };
}

describe("MongoDB store: a commit whose result is unknown", () => {
  const labelled = (code: number, codeName: string, label: string) => new MongoServerError({ message: codeName, code, codeName, errorLabels: [label] });

  it("is one the driver gave up on at the commit without a definite abort: then the batch is settled by reading", () => {
    assert.equal(commitResultUnknown(labelled(50, "MaxTimeMSExpired", "UnknownTransactionCommitResult"), "commit"), true);
    const network = new MongoNetworkError("connection reset");
    network.addErrorLabel("UnknownTransactionCommitResult");
    assert.equal(commitResultUnknown(network, "commit"), true);
    const unsatisfiable = new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 100, codeName: "UnsatisfiableWriteConcern", errmsg: "not enough data-bearing nodes" } });
    assert.equal(commitResultUnknown(unsatisfiable, "commit"), true, "the primary applied the commit; only its write concern failed");
  });

  it("is not a definite abort, an error before the commit, or the store's own commit timeout", () => {
    assert.equal(commitResultUnknown(labelled(112, "WriteConflict", "TransientTransactionError"), "commit"), false);
    assert.equal(commitResultUnknown(labelled(50, "MaxTimeMSExpired", "UnknownTransactionCommitResult"), "events"), false);
    assert.equal(commitResultUnknown(labelled(50, "MaxTimeMSExpired", "UnknownTransactionCommitResult"), "hook"), false);
    assert.equal(commitResultUnknown(new CommitTimeoutError(100, 3), "commit"), false);
    assert.equal(commitResultUnknown(new Error("not a driver error"), "commit"), false);
  });

  it("answers the appends whose outcome committed with their ack, keeps conflicts, and fails the others", () => {
    const appends = [queued("a", 0, "c1", 1), queued("b", 3, "c2", 1), queued("c", 0, "c3", 2)];
    const plan = planAppends(appends, new Map([[aggregateKey("Test", "b"), 5]]));
    const writes = batchWrites(appends, plan, 10, new Date(0));
    const [first, conflict, third] = writes.results;
    assert.deepEqual(settleAppends(writes, new Set(["c1", "c3"])), [
      { kind: "answered", result: first },
      { kind: "answered", result: conflict },
      { kind: "answered", result: third },
    ]);
    assert.equal(conflict?.kind, "conflict");
    assert.deepEqual(settleAppends(writes, new Set()), [{ kind: "not-stored" }, { kind: "answered", result: conflict }, { kind: "not-stored" }]);
  });
});
