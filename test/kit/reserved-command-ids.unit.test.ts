import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { MAX_COMMAND_ID_LENGTH, isReservedCommandId, reservedCommandId } from "@recq-mesh/protocol";

describe("reservedCommandId", () => {
  it("joins kind, names and numbers under recq: while it fits", () => {
    assert.equal(reservedCommandId("saga", ["item-transfer", "groceries@3"], [42, 1]), "recq:saga:item-transfer:groceries@3:42:1");
    assert.equal(reservedCommandId("observer", ["todo-notifier"], [7]), "recq:observer:todo-notifier:7");
    assert.ok(isReservedCommandId("recq:observer:todo-notifier:7"));
    assert.ok(!isReservedCommandId("todo-notifier:7"));
  });

  it("keeps an id of exactly the limit as it is, and hashes the names of a longer one, deterministically, within the limit", () => {
    const head = "recq:saga:s:";
    const tail = ":9:1";
    const fits = reservedCommandId("saga", ["s", "a".repeat(MAX_COMMAND_ID_LENGTH - head.length - tail.length)], [9, 1]);
    assert.equal(fits.length, MAX_COMMAND_ID_LENGTH);
    assert.ok(!fits.includes("~"));

    const long = ["s", "a".repeat(MAX_COMMAND_ID_LENGTH - head.length - tail.length + 1)];
    const hashed = reservedCommandId("saga", long, [9, 1]);
    assert.equal(hashed.length, MAX_COMMAND_ID_LENGTH);
    assert.match(hashed, /^recq:saga:s:a+~[0-9a-f]{32}:9:1$/);
    assert.equal(reservedCommandId("saga", long, [9, 1]), hashed, "the same every time");
    assert.notEqual(reservedCommandId("saga", long, [9, 2]), hashed, "the numbers still tell sends apart");
    assert.notEqual(reservedCommandId("saga", ["s", `${long[1]}b`], [9, 1]), hashed, "names that differ only past the cut differ");
    assert.notEqual(reservedCommandId("saga", ["s:a", "a".repeat(200)], [9, 1]), reservedCommandId("saga", ["s", "a:a".concat("a".repeat(198))], [9, 1]));
  });

  it("stays within the limit for a 1,000-character saga name, and never splits a surrogate pair", () => {
    assert.ok(reservedCommandId("saga", ["n".repeat(1_000), "x"], [Number.MAX_SAFE_INTEGER, 99]).length <= MAX_COMMAND_ID_LENGTH);
    for (let pad = 0; pad < 4; pad++) {
      const id = reservedCommandId("saga", ["s".repeat(pad), "😀".repeat(100)], [1, 1]);
      assert.ok(id.length <= MAX_COMMAND_ID_LENGTH);
      assert.equal(Buffer.from(id, "utf8").toString("utf8"), id, "no lone surrogate");
    }
  });
});
