import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { EmbeddedViewStore, type ViewChange, type ViewDocument, type ViewWrite } from "@recq-mesh/kit";
import { DEFAULT_MAX_FIND_RESULTS, DEFAULT_MAX_WRITES_PER_COMMIT } from "@recq-mesh/kit/internal/views/embedded-view-store-options";
import { tryFastUpdate } from "@recq-mesh/kit/internal/views/fast-update";
import { applyUpdateOperators } from "@recq-mesh/kit/internal/views/mingo-bridge";
import { runViewStoreContract } from "./view-store.suite";

/** Listener errors would print process warnings; the contract's throwing listener is expected, so keep them. */
const listenerErrors: unknown[] = [];

runViewStoreContract("embedded", async () => {
  const store = new EmbeddedViewStore({ onListenerError: (error) => listenerErrors.push(error) });
  return { store, cleanup: () => store.close() };
});

const puts = (count: number, collection = "lists"): ViewWrite[] =>
  Array.from({ length: count }, (_, index) => ({ kind: "put", collection, document: { _id: `d${index}`, index } }));

describe("EmbeddedViewStore limits", () => {
  it("has documented defaults", () => {
    assert.equal(DEFAULT_MAX_WRITES_PER_COMMIT, 10_000);
    assert.equal(DEFAULT_MAX_FIND_RESULTS, 1_000);
  });

  it("rejects a commit with more writes than maxWritesPerCommit, changing nothing", async () => {
    const store = new EmbeddedViewStore({ maxWritesPerCommit: 3 });
    await store.commit("p", 1, puts(3));
    await assert.rejects(store.commit("p", 2, puts(4, "other")), { code: "LIMIT_EXCEEDED", message: /4 writes, more than .* 3/ });
    assert.equal(await store.checkpoint("p"), 1);
    assert.equal(await store.count("other", {}), 0);
  });

  it("rejects a find limit above maxFindResults", async () => {
    const store = new EmbeddedViewStore({ maxFindResults: 5 });
    await store.commit("p", 1, puts(8));
    await assert.rejects(store.find("lists", {}, { limit: 6 }), { code: "LIMIT_EXCEEDED", message: /limit 6 is above .* 5/ });
    assert.equal((await store.find("lists", {}, { limit: 5 })).length, 5);
  });

  it("rejects a find without limit that matches more than maxFindResults, instead of truncating it", async () => {
    const store = new EmbeddedViewStore({ maxFindResults: 5 });
    await store.commit("p", 1, puts(8));
    await assert.rejects(store.find("lists", {}), { code: "LIMIT_EXCEEDED", message: /page with skip/ });
    await assert.rejects(store.find("lists", {}, { limit: 0 }), { code: "LIMIT_EXCEEDED" });
    assert.equal((await store.find("lists", { index: { $lt: 5 } })).length, 5);
    assert.equal((await store.find("lists", {}, { skip: 3 })).length, 5);
    assert.equal(await store.count("lists", {}), 8);
  });

  it("refuses options that are not positive integers", () => {
    assert.throws(() => new EmbeddedViewStore({ maxFindResults: 0 }), RangeError);
    assert.throws(() => new EmbeddedViewStore({ maxWritesPerCommit: 1.5 }), RangeError);
  });
});

describe("EmbeddedViewStore close", () => {
  it("rejects every call after close with CLOSED, and close itself is idempotent", async () => {
    const store = new EmbeddedViewStore();
    await store.commit("p", 1, puts(1));
    await store.close();
    await store.close();
    const closed = { name: "ViewStoreError", code: "CLOSED" };
    await assert.rejects(store.findById("lists", "d0"), closed);
    await assert.rejects(store.find("lists", {}), closed);
    await assert.rejects(store.count("lists", {}), closed);
    await assert.rejects(store.commit("p", 2, []), closed);
    await assert.rejects(store.checkpoint("p"), closed);
    await assert.rejects(store.ensureIndex("lists", { index: 1 }), closed);
    assert.throws(() => store.watch("lists", () => undefined), closed);
  });

  it("stops notifying listeners", async () => {
    const store = new EmbeddedViewStore();
    const changes: ViewChange[] = [];
    store.watch("lists", (change) => changes.push(change));
    await store.close();
    assert.deepEqual(changes, []);
  });
});

describe("EmbeddedViewStore arguments and values", () => {
  it("rejects bad names, positions, filters and sorts with INVALID_ARGUMENT", async () => {
    const store = new EmbeddedViewStore();
    const invalid = { code: "INVALID_ARGUMENT" };
    await assert.rejects(store.find("", {}), invalid);
    await assert.rejects(store.find("a$b", {}), invalid);
    await assert.rejects(store.find("system.views", {}), invalid);
    await assert.rejects(store.commit("", 1, []), invalid);
    await assert.rejects(store.commit("p", -1, []), invalid);
    await assert.rejects(store.commit("p", 1.5, []), invalid);
    await assert.rejects(store.find("lists", {}, { sort: { name: 2 as 1 } }), invalid);
    await assert.rejects(store.find("lists", {}, { skip: -1 }), invalid);
    await assert.rejects(store.find("lists", {}, { limit: 2.5 }), invalid);
    await assert.rejects(store.ensureIndex("lists", {}), invalid);
    await assert.rejects(store.commit("p", 1, [{ kind: "put", collection: "lists", document: { _id: 7 as unknown as string } }]), invalid);
  });

  it("does not run script operators from a filter", async () => {
    const store = new EmbeddedViewStore();
    await store.commit("p", 1, puts(1));
    await assert.rejects(store.find("lists", { $where: "this.index > 0" }), { code: "INVALID_ARGUMENT", message: /scriptEnabled/ });
  });

  it("accepts plain data only: bigints and class instances are rejected, undefined fields dropped", async () => {
    const store = new EmbeddedViewStore();
    const putValue = (value: unknown): Promise<void> => store.commit("p", 1, [{ kind: "put", collection: "lists", document: { _id: "x", value } }]);
    await assert.rejects(putValue(10n), { code: "INVALID_WRITE", message: /'value' holds a bigint/ });
    await assert.rejects(putValue(new Map()), { code: "INVALID_WRITE", message: /instance of Map/ });
    await assert.rejects(putValue(() => 1), { code: "INVALID_WRITE" });
    await assert.rejects(
      store.commit("p", 1, [{ kind: "update", collection: "lists", id: "x", update: { $set: { value: 1n } }, upsert: true }]),
      { code: "INVALID_WRITE" },
    );
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    await assert.rejects(putValue(cyclic), { code: "INVALID_WRITE", message: /nested deeper/ });
    const at = new Date(5);
    await store.commit("p", 2, [{ kind: "put", collection: "lists", document: { _id: "x", gone: undefined, at, list: [undefined] } }]);
    assert.deepEqual(await store.findById("lists", "x"), { _id: "x", at: new Date(5), list: [null] });
  });

  it("never lets two fields share one object, so updating one leaves the other", async () => {
    const store = new EmbeddedViewStore();
    const shared = { done: false };
    await store.commit("p", 1, [
      { kind: "put", collection: "lists", document: { _id: "x", items: [shared, shared] } },
      { kind: "update", collection: "lists", id: "x", update: { $set: { "items.0.done": true } } },
    ]);
    assert.deepEqual((await store.findById("lists", "x"))?.["items"], [{ done: true }, { done: false }]);
  });

  it("rejects a field created inside a scalar, as MongoDB does", async () => {
    const store = new EmbeddedViewStore();
    await store.commit("p", 1, [{ kind: "put", collection: "lists", document: { _id: "x", name: "Groceries" } }]);
    await assert.rejects(
      store.commit("p", 2, [{ kind: "update", collection: "lists", id: "x", update: { $set: { "name.first": "G" } } }]),
      { code: "INVALID_WRITE", message: /write 1 of 1 \(update lists\/x\).*cannot create 'name.first'/ },
    );
  });

  it("rejects an update document without operators, or with $set and $setOnInsert on one path", async () => {
    const store = new EmbeddedViewStore();
    const updateX = (update: Record<string, unknown>): Promise<void> =>
      store.commit("p", 1, [{ kind: "update", collection: "lists", id: "x", update, upsert: true }]);
    await assert.rejects(updateX({}), { code: "INVALID_WRITE", message: /at least one update operator/ });
    await assert.rejects(updateX({ name: "x" }), { code: "INVALID_WRITE", message: /use a put/ });
    await assert.rejects(updateX({ $set: { a: 1 }, $setOnInsert: { a: 2 } }), { code: "INVALID_WRITE", message: /both \$set and \$setOnInsert/ });
  });
});

describe("EmbeddedViewStore indexes", () => {
  it("refuses a unique index over documents that already share a key", async () => {
    const store = new EmbeddedViewStore();
    await store.commit("p", 1, [
      { kind: "put", collection: "users", document: { _id: "a", email: "ann@example.com" } },
      { kind: "put", collection: "users", document: { _id: "b", email: "ann@example.com" } },
    ]);
    await assert.rejects(store.ensureIndex("users", { email: 1 }, { unique: true }), { code: "DUPLICATE_KEY", message: /'a' and 'b'/ });
    // Refused means not created: later writes are not checked against it.
    await store.commit("p", 2, [{ kind: "put", collection: "users", document: { _id: "c", email: "ann@example.com" } }]);
  });

  it("refuses the same keys declared again with another unique option", async () => {
    const store = new EmbeddedViewStore();
    await store.ensureIndex("users", { email: 1 }, { unique: true });
    await assert.rejects(store.ensureIndex("users", { email: 1 }), { code: "INDEX_CONFLICT" });
  });

  it("indexes each element of an array, and a missing field as null", async () => {
    const store = new EmbeddedViewStore();
    await store.ensureIndex("users", { emails: 1 }, { unique: true });
    await store.commit("p", 1, [
      { kind: "put", collection: "users", document: { _id: "a", emails: ["a@x", "a2@x"] } },
      { kind: "put", collection: "users", document: { _id: "b" } },
    ]);
    await assert.rejects(store.commit("p", 2, [{ kind: "put", collection: "users", document: { _id: "c", emails: ["c@x", "a2@x"] } }]), {
      code: "DUPLICATE_KEY",
      message: /emails = \("a2@x"\)/,
    });
    const missingAgain = store.commit("p", 2, [{ kind: "put", collection: "users", document: { _id: "d", emails: null } }]);
    await assert.rejects(missingAgain, { code: "DUPLICATE_KEY" });
  });

  it("lets two documents of one commit swap their keys (checked on the commit's final state)", async () => {
    const store = new EmbeddedViewStore();
    await store.ensureIndex("seats", { seat: 1 }, { unique: true });
    await store.commit("p", 1, [
      { kind: "put", collection: "seats", document: { _id: "ann", seat: 1 } },
      { kind: "put", collection: "seats", document: { _id: "bob", seat: 2 } },
    ]);
    await store.commit("p", 2, [
      { kind: "update", collection: "seats", id: "ann", update: { $set: { seat: 2 } } },
      { kind: "update", collection: "seats", id: "bob", update: { $set: { seat: 1 } } },
    ]);
    await assert.rejects(store.commit("p", 3, [{ kind: "put", collection: "seats", document: { _id: "cid", seat: 1 } }]), { code: "DUPLICATE_KEY" });
  });
});

describe("EmbeddedViewStore watch", () => {
  it("reports a throwing listener to onListenerError and notifies before commit resolves", async () => {
    const errors: [unknown, ViewChange][] = [];
    const store = new EmbeddedViewStore({ onListenerError: (error, change) => errors.push([error, change]) });
    const seen: string[] = [];
    store.watch("lists", () => {
      throw new Error("listener bug");
    });
    store.watch("lists", (change) => seen.push(change.id));
    await store.commit("p", 1, puts(2));
    assert.deepEqual(seen, ["d0", "d1"]);
    assert.equal(errors.length, 2);
    assert.match((errors[0]?.[0] as Error).message, /listener bug/);
    assert.deepEqual(errors[0]?.[1], { collection: "lists", id: "d0", position: 1 });
  });

  it("does not notify a write that leaves the document as it was", async () => {
    const store = new EmbeddedViewStore();
    await store.commit("p", 1, puts(1));
    const seen: string[] = [];
    store.watch("lists", (change) => seen.push(change.id));
    await store.commit("p", 2, [
      { kind: "put", collection: "lists", document: { _id: "d0", index: 0 } },
      { kind: "update", collection: "lists", id: "d0", update: { $set: { index: 0 } } },
    ]);
    assert.deepEqual(seen, []);
  });

  it("delivers in commit order when a listener commits again", async () => {
    const store = new EmbeddedViewStore();
    const seen: string[] = [];
    store.watch("lists", (change) => {
      seen.push(`${change.id}@${change.position}`);
      if (change.id === "d0") void store.commit("follower", 1, [{ kind: "put", collection: "lists", document: { _id: "echo" } }]);
    });
    await store.commit("p", 1, puts(2));
    assert.deepEqual(seen, ["d0@1", "d1@1", "echo@1"]);
  });

  it("counts the same listener subscribed twice as two subscriptions", async () => {
    const store = new EmbeddedViewStore();
    const seen: string[] = [];
    const listener = (change: ViewChange): void => void seen.push(change.id);
    const stopFirst = store.watch("lists", listener);
    store.watch("lists", listener);
    stopFirst();
    await store.commit("p", 1, puts(1));
    assert.deepEqual(seen, ["d0"]);
  });
});

describe("EmbeddedViewStore fast update path", () => {
  const base = (): ViewDocument => ({ _id: "x", name: "Groceries", count: 2, meta: { color: "red", size: { w: 1 } }, items: [{ title: "milk" }] });
  /** Same result as mingo, field order included (JSON keeps it; deepEqual would not notice a reorder). */
  const assertSameAsMingo = (modifier: Record<string, unknown>): void => {
    const fast = base();
    const slow = base();
    assert.equal(tryFastUpdate(fast, modifier), true, `fast path expected for ${JSON.stringify(modifier)}`);
    applyUpdateOperators(slow, modifier);
    assert.equal(JSON.stringify(fast), JSON.stringify(slow), JSON.stringify(modifier));
  };

  it("gives mingo's result for the updates it takes", () => {
    for (const modifier of [
      { $set: { name: "Food" } },
      { $set: { added: { nested: [1, 2] }, "meta.color": "blue" } },
      { $set: { "deep.new.path": 1, "deep.other": 2 } },
      { $set: { "meta.size.h": 3 }, $unset: { "meta.color": "" } },
      { $unset: { name: "", missing: "", "nope.deeper": "" } },
      { $inc: { count: 3, fresh: 1, "meta.size.w": -1.5 } },
      { $push: { items: { title: "eggs" }, tags: "new" } },
      { $set: { name: "Groceries" } },
    ]) {
      assertSameAsMingo(modifier);
    }
  });

  it("leaves to mingo what it cannot be sure of, and changes nothing then", () => {
    for (const modifier of [
      { $set: { "items.0.title": "x" } },
      { $set: { "items.$[].done": true } },
      { $set: { "name.first": "G" } },
      { $set: { meta: {}, "meta.color": "x" } },
      { $set: { a: 1 }, $inc: { a: 1 } },
      { $set: { _id: "y" } },
      { $inc: { name: 1 } },
      { $inc: { count: "1" } },
      { $push: { items: { $each: [1, 2] } } },
      { $push: { name: 1 } },
      { $pull: { items: { title: "milk" } } },
      { $addToSet: { tags: "a" } },
      { $set: { "__proto__.polluted": true } },
    ]) {
      const document = base();
      assert.equal(tryFastUpdate(document, modifier), false, JSON.stringify(modifier));
      assert.deepEqual(document, base());
    }
  });
});
