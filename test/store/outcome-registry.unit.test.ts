import assert from "node:assert/strict";
import { describe, test } from "@jest/globals";
import { OutcomeRegistry, commandIdHash } from "@recq-mesh/gateway/internal/store/outcome-registry";

const T0 = 1_700_000_000_000;

describe("outcome registry", () => {
  test("answers for an outcome until its retention has passed, and not at it", () => {
    const registry = new OutcomeRegistry(1000);
    registry.record("c1", { offset: 8, length: 50 }, T0, T0);
    assert.deepEqual(registry.candidates("c1", T0 + 999), [{ offset: 8, length: 50 }]);
    assert.deepEqual(registry.candidates("c1", T0 + 1000), []);
    assert.deepEqual(registry.candidates("other", T0), []);
    registry.record("old", { offset: 58, length: 50 }, T0, T0 + 1000);
    assert.equal(registry.size, 1, "a record already past retention when replayed is not kept");
  });

  test("gives every record whose id hash matches, newest first, for the caller to check", () => {
    const registry = new OutcomeRegistry(1000, () => 7);
    registry.record("a", { offset: 100, length: 10 }, T0, T0);
    registry.record("b", { offset: 200, length: 10 }, T0, T0);
    registry.record("a", { offset: 300, length: 10 }, T0, T0);
    assert.deepEqual(registry.candidates("a", T0).map((location) => location.offset), [300, 200, 100]);
  });

  test("finds every id through table rebuilds", () => {
    const registry = new OutcomeRegistry(1000);
    for (let n = 0; n < 5000; n++) registry.record(`cmd-${n}`, { offset: 8 + n * 40, length: 40 }, T0, T0);
    for (let n = 0; n < 5000; n++) assert.deepEqual(registry.candidates(`cmd-${n}`, T0), [{ offset: 8 + n * 40, length: 40 }]);
    assert.equal(registry.size, 5000);
  });

  test("prunes in journal order, drops whole log chunks and keeps the rest findable", () => {
    const registry = new OutcomeRegistry(1000);
    const count = 70_000;
    for (let n = 0; n < count; n++) registry.record(`cmd-${n}`, { offset: 8 + n, length: 1 }, T0 + n, T0 + n);
    const before = registry.allocatedBytes;
    assert.equal(registry.prune(T0 + 66_000 + 1000), 66_001);
    assert.equal(registry.size, count - 66_001);
    assert.ok(registry.allocatedBytes < before, "the first log chunk was freed");
    assert.deepEqual(registry.candidates("cmd-66000", T0 + 66_000), []);
    assert.deepEqual(registry.candidates("cmd-66001", T0 + 66_001), [{ offset: 8 + 66_001, length: 1 }]);
    registry.record("after", { offset: 8 + count, length: 1 }, T0 + count, T0 + count);
    assert.deepEqual(registry.candidates("after", T0 + count), [{ offset: 8 + count, length: 1 }]);
  });

  test("hashes ids to 52 bits, spread over the table's slots", () => {
    const hashes = Array.from({ length: 1000 }, (_, n) => commandIdHash(`00000000-0000-4000-8000-${String(n).padStart(12, "0")}`));
    assert.ok(hashes.every((hash) => Number.isSafeInteger(hash) && hash >= 0 && hash < 2 ** 52));
    assert.equal(new Set(hashes).size, 1000);
    assert.ok(new Set(hashes.map((hash) => hash % 1024)).size > 500, "low bits differ between similar ids");
  });
});
