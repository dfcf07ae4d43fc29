import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import type { AppendRequest } from "@recq-mesh/gateway/internal/store/event-store";
import { aggregateKey } from "@recq-mesh/gateway/internal/store/event-index";
import { measureAppend, planAppends, type QueuedAppend } from "@recq-mesh/gateway/internal/store/mongo-append-plan";
import { counterUpdate } from "@recq-mesh/gateway/internal/store/mongo-append-transaction";

function queued(aggregateId: string, expectedSequence: number, commandId: string, eventCount: number): QueuedAppend {
  const events = Array.from({ length: eventCount }, (_, n) => ({ type: "test.v1.Happened", payload: Buffer.from(`${commandId}/${n}`), metadata: {} }));
  const request: AppendRequest = { aggregateType: "Test", aggregateId, expectedSequence, commandId, events };
  return { request, timeMs: 1_000, bytes: measureAppend(request).bytes };
}

const at = (entries: [string, number][]) => new Map(entries.map(([id, sequence]) => [aggregateKey("Test", id), sequence]));
const updateOf = (appends: QueuedAppend[], sequences: [string, number][]) => counterUpdate(appends, planAppends(appends, at(sequences)));

describe("MongoDB append transaction: how a batch writes the position counter", () => {
  it("takes the batch's events as positions", () => {
    assert.deepEqual(updateOf([queued("a", 1, "c1", 2), queued("b", 0, "c2", 1)], [["a", 1]]), { $inc: { position: 3 } });
  });

  it("changes the counter for an append without events that checks its aggregate's sequence, so that it conflicts", () => {
    assert.deepEqual(updateOf([queued("a", 3, "snapshot-only", 0)], [["a", 3]]), { $inc: { position: 0, sequenceChecks: 1 } });
  });

  it("only reads the counter when nothing of the batch checks a sequence: outcomes without an aggregate, conflicts", () => {
    assert.equal(updateOf([queued("", 0, "outcome-only", 0)], []), undefined);
    assert.equal(updateOf([queued("a", 1, "stale", 0)], [["a", 3]]), undefined, "a conflict is decided on committed data and writes nothing");
  });
});
