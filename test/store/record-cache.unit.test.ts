import assert from "node:assert/strict";
import { describe, test } from "@jest/globals";
import { EventLocations } from "@recq-mesh/gateway/internal/store/event-locations";
import type { CommitRecord } from "@recq-mesh/gateway/internal/store/journal-record";
import { RecordCache, estimatedRecordBytes } from "@recq-mesh/gateway/internal/store/record-cache";

function commit(position: number, payloadBytes = 100): CommitRecord {
  return {
    kind: "commit",
    timeMs: 1_700_000_000_000,
    commandId: `c${position}`,
    aggregateType: "Test",
    aggregateId: "a",
    position,
    sequence: position,
    events: [{ type: "test.v1.Happened", payload: Buffer.alloc(payloadBytes, position), metadata: { n: String(position) } }],
    snapshot: undefined,
  };
}

describe("record cache", () => {
  test("keeps a record of exactly its bound, and not one a byte larger", () => {
    const record = commit(1);
    const atTheBound = new RecordCache(estimatedRecordBytes(record));
    atTheBound.add(8, record);
    assert.equal(atTheBound.size, 1);
    assert.equal(atTheBound.bytes, estimatedRecordBytes(record));

    const belowIt = new RecordCache(estimatedRecordBytes(record) - 1);
    const answered = belowIt.add(8, record);
    assert.equal(belowIt.size, 0);
    assert.equal(belowIt.bytes, 0);
    assert.deepEqual(answered.events[0]?.payload, record.events[0]!.payload, "an uncached record is still answered");
  });

  test("evicts the least recently used record first, and only as many as the bound needs", () => {
    const each = estimatedRecordBytes(commit(1));
    const cache = new RecordCache(2 * each);
    cache.add(100, commit(1));
    cache.add(200, commit(2));
    assert.ok(cache.get(100, true) !== undefined);
    cache.add(300, commit(3));
    assert.equal(cache.get(200, false), undefined, "the record used least recently went");
    assert.deepEqual([cache.get(100, false)?.events[0]?.commandId, cache.get(300, false)?.events[0]?.commandId], ["c1", "c3"]);
    assert.equal(cache.bytes, 2 * each);
  });

  test("a peek does not make a record recent", () => {
    const each = estimatedRecordBytes(commit(1));
    const cache = new RecordCache(2 * each);
    cache.add(100, commit(1));
    cache.add(200, commit(2));
    cache.get(100, false);
    cache.add(300, commit(3));
    assert.equal(cache.get(100, false), undefined);
  });

  test("holds payloads in a Buffer of its own, not the one it was given", () => {
    const record = commit(1);
    const cache = new RecordCache(1024 * 1024);
    const cached = cache.add(8, record);
    record.events[0]!.payload.fill(0);
    assert.deepEqual(cached.events[0]?.payload, Buffer.alloc(100, 1));
    assert.notEqual(cached.events[0]?.payload.buffer, record.events[0]!.payload.buffer);
  });
});

describe("event locations", () => {
  test("answers every position across chunk boundaries, and nothing outside 1..size", () => {
    const locations = new EventLocations();
    const count = 65_536 * 2 + 3;
    for (let position = 1; position <= count; position++) locations.push({ offset: 2 ** 40 + position * 10, length: position % 1000 });
    assert.equal(locations.size, count);
    for (const position of [1, 65_535, 65_536, 65_537, 131_072, 131_073, count]) {
      assert.deepEqual(locations.at(position), { offset: 2 ** 40 + position * 10, length: position % 1000 });
    }
    assert.throws(() => locations.at(0), RangeError);
    assert.throws(() => locations.at(count + 1), RangeError);
    assert.equal(locations.allocatedBytes, 3 * 65_536 * 12);
  });
});
