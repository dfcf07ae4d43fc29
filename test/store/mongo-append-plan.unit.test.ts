import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import type { AppendRequest } from "@recq-mesh/gateway/internal/store/event-store";
import { aggregateKey } from "@recq-mesh/gateway/internal/store/event-index";
import { batchWrites, estimateAppendBytes, planAppends, type QueuedAppend } from "@recq-mesh/gateway/internal/store/mongo-append-plan";

function queued(aggregateId: string, expectedSequence: number, commandId: string, eventCount: number, extra: Partial<AppendRequest> = {}): QueuedAppend {
  const events = Array.from({ length: eventCount }, (_, n) => ({ type: "test.v1.Happened", payload: Buffer.from(`${commandId}/${n}`), metadata: { n: String(n) } }));
  const request: AppendRequest = { aggregateType: "Test", aggregateId, expectedSequence, commandId, events, ...extra };
  return { request, timeMs: 1_000, bytes: estimateAppendBytes(request) };
}

const at = (entries: [string, number][]) => new Map(entries.map(([id, sequence]) => [aggregateKey("Test", id), sequence]));

describe("MongoDB append plan: deciding a batch as if its appends ran in order", () => {
  it("accepts appends at their aggregate's sequence and numbers their events after the batch's earlier ones", () => {
    const appends = [queued("a", 2, "c1", 2), queued("b", 0, "c2", 1), queued("a", 4, "c3", 1)];
    const plan = planAppends(appends, at([["a", 2], ["b", 0]]));
    assert.deepEqual(plan.decisions, [
      { kind: "append", sequence: 4, firstEvent: 0 },
      { kind: "append", sequence: 1, firstEvent: 2 },
      { kind: "append", sequence: 5, firstEvent: 3 },
    ]);
    assert.equal(plan.eventCount, 4);
  });

  it("makes a later append with the same expected sequence conflict with the earlier one of the batch", () => {
    const plan = planAppends([queued("a", 0, "first", 1), queued("a", 0, "second", 1)], at([["a", 0]]));
    assert.deepEqual(plan.decisions[1], { kind: "conflict", actualSequence: 1 });
    assert.equal(plan.eventCount, 1);
  });

  it("answers a stale or future expected sequence with the actual one, and takes no position for it", () => {
    const plan = planAppends([queued("a", 1, "stale", 1), queued("a", 7, "future", 1), queued("b", 0, "fine", 1)], at([["a", 3], ["b", 0]]));
    assert.deepEqual(plan.decisions.slice(0, 2), [
      { kind: "conflict", actualSequence: 3 },
      { kind: "conflict", actualSequence: 3 },
    ]);
    assert.deepEqual(plan.decisions[2], { kind: "append", sequence: 1, firstEvent: 0 });
  });

  it("builds the documents: dense positions from the head, outcomes for appended commands only, snapshots", () => {
    const snapshot = { sequence: 3, type: "S", payload: Buffer.from("s3") };
    const appends = [queued("a", 1, "c1", 2, { snapshot }), queued("a", 1, "lost", 1), queued("", 0, "service", 0), queued("b", 0, "c2", 1)];
    const plan = planAppends(appends, at([["a", 1], ["b", 0]]));
    const recordedAt = new Date(5_000);
    const writes = batchWrites(appends, plan, 10, recordedAt);

    assert.deepEqual(writes.events.map((e) => [e._id, e.aggregateId, e.sequence, e.commandId]), [
      [11, "a", 2, "c1"],
      [12, "a", 3, "c1"],
      [13, "b", 1, "c2"],
    ]);
    assert.deepEqual(writes.eventOwners, [0, 0, 3]);
    assert.deepEqual(writes.events[0]?.metadata, [["n", "0"]]);
    assert.equal(writes.head, 13);
    assert.deepEqual(writes.results.map((r) => (r.kind === "appended" ? r.ack : r)), [
      { commandId: "c1", position: 12, sequence: 3 },
      { kind: "conflict", actualSequence: 3 },
      { commandId: "service", position: 12, sequence: 0 },
      { commandId: "c2", position: 13, sequence: 1 },
    ]);
    assert.deepEqual(writes.outcomes.map((o) => [o._id, o.kind, o.position, o.sequence, o.recordedAt]), [
      ["c1", "succeeded", 12, 3, recordedAt],
      ["service", "succeeded", 12, 0, recordedAt],
      ["c2", "succeeded", 13, 1, recordedAt],
    ]);
    assert.deepEqual(writes.outcomeOwners, [0, 2, 3]);
    assert.deepEqual(writes.snapshots, [{ _id: { aggregateType: "Test", aggregateId: "a" }, sequence: 3, type: "S", payload: Buffer.from("s3") }]);
    const first = writes.results[0];
    assert.ok(first?.kind === "appended");
    assert.deepEqual(first.events.map((e) => [e.position, e.sequence, e.timeMs, e.metadata]), [
      [11, 2, 1_000, { n: "0" }],
      [12, 3, 1_000, { n: "1" }],
    ]);
  });

  it("gives an append without events the head where it stands in the batch", () => {
    const appends = [queued("a", 0, "c1", 2), queued("a", 2, "noop", 0)];
    const writes = batchWrites(appends, planAppends(appends, at([["a", 0]])), 0, new Date());
    assert.deepEqual(writes.results[1]?.kind === "appended" && writes.results[1].ack, { commandId: "noop", position: 2, sequence: 2 });
  });

  it("estimates an append's size from its payloads, strings and snapshot", () => {
    const small = estimateAppendBytes(queued("a", 0, "c", 1).request);
    const big = estimateAppendBytes({ ...queued("a", 0, "c", 1).request, snapshot: { sequence: 1, type: "S", payload: Buffer.alloc(10_000) } });
    assert.ok(small > 0 && small < 1_000, `${small}`);
    assert.ok(big - small >= 10_000);
  });
});
