import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "@jest/globals";
import { BSON } from "mongodb";
import type { AppendRequest } from "@recq-mesh/gateway/internal/store/event-store";
import { aggregateKey } from "@recq-mesh/gateway/internal/store/event-index";
import { appendSizeRefusal, batchWrites, MAX_BSON_DOCUMENT_BYTES, measureAppend, planAppends, type QueuedAppend } from "@recq-mesh/gateway/internal/store/mongo-append-plan";

function queued(aggregateId: string, expectedSequence: number, commandId: string, eventCount: number, extra: Partial<AppendRequest> = {}): QueuedAppend {
  const events = Array.from({ length: eventCount }, (_, n) => ({ type: "test.v1.Happened", payload: Buffer.from(`${commandId}/${n}`), metadata: { n: String(n) } }));
  const request: AppendRequest = { aggregateType: "Test", aggregateId, expectedSequence, commandId, events, ...extra };
  return { request, timeMs: 1_000, bytes: measureAppend(request).bytes };
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

  it("measures an append in BSON: at least what its documents are once written, multibyte text and metadata pairs included", () => {
    // 2,000 metadata pairs and text of 3-byte characters: counted in UTF-16 units and 8 bytes a pair, this append
    // looked less than half its size.
    const metadata = Object.fromEntries(Array.from({ length: 2_000 }, (_, n) => [`k${n}`, "値"]));
    const events = Array.from({ length: 3 }, () => ({ type: "テスト.v1.起きた", payload: Buffer.alloc(100), metadata }));
    const request: AppendRequest = {
      aggregateType: "集計",
      aggregateId: "識別子".repeat(50),
      expectedSequence: 0,
      commandId: "命令".repeat(20),
      events,
      snapshot: { sequence: 3, type: "スナップ", payload: Buffer.alloc(50) },
    };
    const appends = [{ request, timeMs: Date.now(), bytes: 0 }];
    const writes = batchWrites(appends, planAppends(appends, at([])), 1_000_000, new Date());
    // The transaction stamps each outcome with its attempt's batch id, a UUID.
    const outcomes = writes.outcomes.map((outcome) => ({ ...outcome, batchId: randomUUID() }));
    const documents = [...writes.events, ...outcomes, ...writes.snapshots];
    const written = documents.map((document) => BSON.calculateObjectSize(document));
    const size = measureAppend(request);

    assert.ok(size.bytes >= sum(written), `measured ${size.bytes}, written ${sum(written)}`);
    // An upper bound only by the widths of numbers not known yet (a double instead of an int32): a few bytes each.
    assert.ok(size.bytes <= sum(written) + 16 * documents.length, `measured ${size.bytes}, written ${sum(written)}`);
    assert.ok(size.largestDocument >= Math.max(...written) && size.largestDocument <= Math.max(...written) + 16);
  });

  it("counts a snapshot's payload", () => {
    const small = measureAppend(queued("a", 0, "c", 1).request);
    const big = measureAppend({ ...queued("a", 0, "c", 1).request, snapshot: { sequence: 1, type: "S", payload: Buffer.alloc(10_000) } });
    assert.ok(big.bytes - small.bytes >= 10_000);
  });

  it("refuses an append one byte past maxBatchBytes, or with a document past MongoDB's limit, and only such an append", () => {
    const { request } = queued("a", 0, "c", 2);
    const size = measureAppend(request);
    assert.equal(appendSizeRefusal(request, size, size.bytes), undefined, "at the limit it fits");
    assert.equal(appendSizeRefusal(request, size, size.bytes - 1), `append of command "c" is ${size.bytes} bytes in BSON, more than maxBatchBytes (${size.bytes - 1})`);
    const atDocumentLimit = { bytes: MAX_BSON_DOCUMENT_BYTES, largestDocument: MAX_BSON_DOCUMENT_BYTES };
    assert.equal(appendSizeRefusal(request, atDocumentLimit, 64 * 1024 * 1024), undefined);
    const pastDocumentLimit = { bytes: MAX_BSON_DOCUMENT_BYTES + 1, largestDocument: MAX_BSON_DOCUMENT_BYTES + 1 };
    assert.match(appendSizeRefusal(request, pastDocumentLimit, 64 * 1024 * 1024) ?? "", /document of 16777217 bytes in BSON, more than MongoDB's document limit \(16777216\)/);
  });
});

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
