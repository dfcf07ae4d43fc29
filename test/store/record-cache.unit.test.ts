import assert from "node:assert/strict";
import { describe, test } from "@jest/globals";
import { EventLocations, POSITIONS_PER_ENTRY } from "@recq-mesh/gateway/internal/store/event-locations";
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

/** A record's place in the journal, 50 bytes long. */
function at(offset: number) {
  return { offset, length: 50 };
}

describe("record cache", () => {
  test("keeps a record of exactly its bound, and not one a byte larger", () => {
    const record = commit(1);
    const atTheBound = new RecordCache(estimatedRecordBytes(record));
    atTheBound.add(at(8), record);
    assert.equal(atTheBound.size, 1);
    assert.equal(atTheBound.bytes, estimatedRecordBytes(record));

    const belowIt = new RecordCache(estimatedRecordBytes(record) - 1);
    const answered = belowIt.add(at(8), record);
    assert.equal(belowIt.size, 0);
    assert.equal(belowIt.bytes, 0);
    assert.deepEqual(answered.events[0]?.payload, record.events[0]!.payload, "an uncached record is still answered");
  });

  test("evicts the least recently used record first, and only as many as the bound needs", () => {
    const each = estimatedRecordBytes(commit(1));
    const cache = new RecordCache(2 * each);
    cache.add(at(100), commit(1));
    cache.add(at(200), commit(2));
    assert.ok(cache.get(100, true) !== undefined);
    cache.add(at(300), commit(3));
    assert.equal(cache.get(200, false), undefined, "the record used least recently went");
    assert.deepEqual([cache.get(100, false)?.events[0]?.commandId, cache.get(300, false)?.events[0]?.commandId], ["c1", "c3"]);
    assert.equal(cache.bytes, 2 * each);
  });

  test("a peek does not make a record recent", () => {
    const each = estimatedRecordBytes(commit(1));
    const cache = new RecordCache(2 * each);
    cache.add(at(100), commit(1));
    cache.add(at(200), commit(2));
    cache.get(100, false);
    cache.add(at(300), commit(3));
    assert.equal(cache.get(100, false), undefined);
  });

  test("knows each record's length, and keeps records without events for a scan to step over", () => {
    const cache = new RecordCache(1024 * 1024);
    cache.add({ offset: 8, length: 180 }, commit(1));
    cache.addWithoutEvents({ offset: 188, length: 60 });
    assert.equal(cache.get(8, false)?.length, 180);
    assert.deepEqual(cache.get(188, false), { events: [], snapshot: undefined, length: 60 });
    assert.equal(cache.size, 2);
  });

  test("holds payloads in a Buffer of its own, not the one it was given", () => {
    const record = commit(1);
    const cache = new RecordCache(1024 * 1024);
    const cached = cache.add(at(8), record);
    record.events[0]!.payload.fill(0);
    assert.deepEqual(cached.events[0]?.payload, Buffer.alloc(100, 1));
    assert.notEqual(cached.events[0]?.payload.buffer, record.events[0]!.payload.buffer);
  });
});

describe("event locations", () => {
  test("finds, for every position, an indexed position at or before it and its record, across chunks", () => {
    const locations = new EventLocations();
    // Records of 1 to 3 events; record n sits at offset 1000 + n.
    const recordOf: number[] = [0];
    for (let record = 0; locations.size < 65_536 * 64 + 300; record++) {
      const events = 1 + (record % 3);
      locations.add(events, 1000 + record);
      for (let n = 0; n < events; n++) recordOf.push(1000 + record);
    }
    for (const position of [1, 2, 63, 64, 65, 66, 129, 65_536 * 64, 65_536 * 64 + 1, locations.size]) {
      const start = locations.scanStart(position);
      assert.ok(start.position <= position && position - start.position < POSITIONS_PER_ENTRY, `position ${position} starts at ${start.position}`);
      assert.equal(start.offset, recordOf[start.position], `the record holding position ${start.position}`);
    }
    assert.throws(() => locations.scanStart(0), RangeError);
    assert.throws(() => locations.scanStart(locations.size + 1), RangeError);
    assert.equal(locations.allocatedBytes, 2 * 65_536 * 8 + 4096 * 8);
  });

  test("keeps an entry for a record of many events that spans indexed positions", () => {
    const locations = new EventLocations();
    locations.add(10, 8);
    locations.add(200, 500);
    locations.add(5000, 9000);
    assert.deepEqual([locations.scanStart(64), locations.scanStart(65), locations.scanStart(200)], [
      { position: 1, offset: 8 },
      { position: 65, offset: 500 },
      { position: 193, offset: 500 },
    ]);
  });

  test("starts a read of one of the last 4,096 positions at its own record", () => {
    const locations = new EventLocations();
    for (let record = 0; record < 5000; record++) locations.add(1, 8 + record * 10);
    assert.deepEqual(locations.scanStart(5000), { position: 5000, offset: 8 + 4999 * 10 });
    assert.deepEqual(locations.scanStart(905), { position: 905, offset: 8 + 904 * 10 });
    assert.deepEqual(locations.scanStart(904), { position: 897, offset: 8 + 896 * 10 }, "older ones start at the index entry before them");
  });
});
