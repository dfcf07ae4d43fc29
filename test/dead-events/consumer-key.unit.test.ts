import assert from "node:assert/strict";
import { describe, test } from "@jest/globals";
import { consumerKey, isOlderGenerationKey } from "@recq-mesh/gateway/internal/consumers/dead-events/consumer-key";

describe("consumer keys of a projection's generations", () => {
  test("key a stream by its name for generation 1 (or unset), by name~gN after a rebuild into N", () => {
    assert.equal(consumerKey({ consumer: "todo-lists", generation: 0 }), "todo-lists");
    assert.equal(consumerKey({ consumer: "todo-lists", generation: 1 }), "todo-lists");
    assert.equal(consumerKey({ consumer: "todo-lists", generation: 3 }), "todo-lists~g3");
  });

  test("tell the keys of a projection's older generations from its own, its newer ones and other consumers'", () => {
    const older = (key: string, generation: number) => isOlderGenerationKey(key, "todo-lists", generation);
    assert.deepEqual(["todo-lists", "todo-lists~g2", "todo-lists~g3", "todo-lists~g4"].map((key) => older(key, 3)), [true, true, false, false]);
    assert.equal(older("todo-lists", 1), false, "generation 1 has no older one");
    assert.equal(older("todo-lists~g2", 2), false);
    for (const other of ["todo-lists-archive", "todo-lists@a", "todo-lists~g", "todo-lists~g02", "todo-lists~g1", "todo-lists~g2x", "audit"]) {
      assert.equal(older(other, 9), false, other);
    }
  });
});
