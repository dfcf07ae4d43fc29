import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "@jest/globals";
import type { ViewChange, ViewDocument, ViewStore, ViewWrite } from "@recq-mesh/kit";
import { runGenerationContract } from "./view-generations.suite";

/**
 * The behaviour every ViewStore adapter must have; the embedded store runs it always, MongoDB when
 * MONGODB_URI is set. `open` must give an empty store (a fresh database) each time.
 *
 * Errors are asserted by their `ViewStoreError` code (see view-store-error.ts): an adapter maps its driver's
 * errors to those codes. Watch notifications may arrive after `commit` resolves (a change stream does), so
 * the suite waits for them, and proves an absence with a later commit's notification as a sentinel.
 * Sorting is total: ties on the requested keys, and a find without sort, come in `_id` ascending order (an
 * adapter appends `_id: 1` to every sort), so skip/limit pages never overlap or skip a document.
 */
export function runViewStoreContract(
  adapterName: string,
  open: () => Promise<{ store: ViewStore; cleanup(): Promise<void> }>,
): void {
  describe(`ViewStore contract: ${adapterName}`, () => {
    let store: ViewStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    /** Commits at the consumer's next position, so tests read as a sequence of projection steps. */
    let nextPosition = 0;
    const project = async (writes: ViewWrite[], consumer = "lists-projector"): Promise<number> => {
      nextPosition = Math.max(nextPosition, await store.checkpoint(consumer)) + 1;
      await store.commit(consumer, nextPosition, writes);
      return nextPosition;
    };
    const put = (document: ViewDocument, collection = "lists"): ViewWrite => ({ kind: "put", collection, document });
    const update = (id: string, modifier: Record<string, unknown>, upsert?: boolean): ViewWrite =>
      upsert === undefined
        ? { kind: "update", collection: "lists", id, update: modifier }
        : { kind: "update", collection: "lists", id, update: modifier, upsert };
    const idsOf = (documents: ViewDocument[]): string[] => documents.map((document) => document._id);

    describe("writes", () => {
      it("puts a document and reads it back by id", async () => {
        await project([put({ _id: "l1", name: "Groceries", items: [{ title: "milk", done: false }] })]);
        assert.deepEqual(await store.findById("lists", "l1"), { _id: "l1", name: "Groceries", items: [{ title: "milk", done: false }] });
        assert.equal(await store.findById("lists", "missing"), undefined);
        assert.equal(await store.findById("other", "l1"), undefined);
      });

      it("put replaces the whole document", async () => {
        await project([put({ _id: "l1", name: "Groceries", owner: "ann" })]);
        await project([put({ _id: "l1", name: "Food" })]);
        assert.deepEqual(await store.findById("lists", "l1"), { _id: "l1", name: "Food" });
      });

      it("updates with $set, $unset, $inc, $push, $pull and $addToSet", async () => {
        await project([put({ _id: "l1", name: "Groceries", owner: "ann", count: 1, tags: ["a"], items: [{ title: "milk" }, { title: "eggs" }] })]);
        await project([
          update("l1", {
            $set: { name: "Food", "meta.color": "red" },
            $unset: { owner: "" },
            $inc: { count: 2 },
            $push: { items: { title: "bread" } },
            $addToSet: { tags: "a" },
          }),
          update("l1", { $pull: { items: { title: "eggs" } }, $addToSet: { tags: "b" } }),
        ]);
        assert.deepEqual(await store.findById("lists", "l1"), {
          _id: "l1",
          name: "Food",
          count: 3,
          tags: ["a", "b"],
          items: [{ title: "milk" }, { title: "bread" }],
          meta: { color: "red" },
        });
      });

      it("updates every element of an array with the all-positional operator", async () => {
        await project([put({ _id: "l1", items: [{ title: "milk", done: false }, { title: "eggs", done: false }] })]);
        await project([update("l1", { $set: { "items.$[].done": true } })]);
        assert.deepEqual((await store.findById("lists", "l1"))?.["items"], [
          { title: "milk", done: true },
          { title: "eggs", done: true },
        ]);
      });

      it("an update of a missing document without upsert changes nothing but still moves the checkpoint", async () => {
        const position = await project([update("ghost", { $set: { name: "x" } })]);
        assert.equal(await store.findById("lists", "ghost"), undefined);
        assert.equal(await store.checkpoint("lists-projector"), position);
      });

      it("an upsert inserts { _id } then applies the update, with $setOnInsert only on insert", async () => {
        await project([update("l1", { $set: { name: "Groceries" }, $inc: { count: 1 }, $setOnInsert: { createdBy: "ann" } }, true)]);
        assert.deepEqual(await store.findById("lists", "l1"), { _id: "l1", name: "Groceries", count: 1, createdBy: "ann" });
        await project([update("l1", { $inc: { count: 1 }, $setOnInsert: { createdBy: "bob" } }, true)]);
        assert.deepEqual(await store.findById("lists", "l1"), { _id: "l1", name: "Groceries", count: 2, createdBy: "ann" });
      });

      it("deletes a document, and deleting a missing one is harmless", async () => {
        await project([put({ _id: "l1" }), put({ _id: "l2" })]);
        await project([{ kind: "delete", collection: "lists", id: "l1" }, { kind: "delete", collection: "lists", id: "nope" }]);
        assert.deepEqual(idsOf(await store.find("lists", {})), ["l2"]);
      });

      it("applies the writes of one commit in order", async () => {
        await project([
          put({ _id: "l1", count: 1 }),
          update("l1", { $inc: { count: 10 } }),
          put({ _id: "l2" }),
          { kind: "delete", collection: "lists", id: "l2" },
          update("l3", { $set: { after: "upsert" } }, true),
          update("l3", { $set: { then: "update" } }),
        ]);
        assert.deepEqual(await store.find("lists", {}, { sort: { _id: 1 } }), [
          { _id: "l1", count: 11 },
          { _id: "l3", after: "upsert", then: "update" },
        ]);
      });

      it("rejects an update that changes _id, an operator on the wrong type, and an unknown operator", async () => {
        await project([put({ _id: "l1", name: "Groceries", items: [] })]);
        const invalidUpdates = [{ $set: { _id: "l9" } }, { $inc: { name: 1 } }, { $push: { name: "x" } }, { $frobnicate: { name: 1 } }, { name: "x" }];
        for (const modifier of invalidUpdates) {
          const commit = store.commit("lists-projector", 100, [update("l1", modifier)]);
          await assert.rejects(commit, { name: "ViewStoreError", code: "INVALID_WRITE" }, JSON.stringify(modifier));
        }
        assert.deepEqual(await store.findById("lists", "l1"), { _id: "l1", name: "Groceries", items: [] });
      });

      it("keeps collections apart", async () => {
        await project([put({ _id: "x", in: "lists" }), put({ _id: "x", in: "items" }, "items")]);
        assert.deepEqual(await store.findById("items", "x"), { _id: "x", in: "items" });
        assert.equal(await store.count("lists", {}), 1);
      });
    });

    describe("queries", () => {
      const lists: ViewDocument[] = [
        { _id: "l1", name: "Groceries", owner: "ann", priority: 2, items: [{ title: "milk", done: true }, { title: "eggs", done: false }] },
        { _id: "l2", name: "groceries for the party", owner: "bob", priority: 1, items: [{ title: "cake", done: false }] },
        { _id: "l3", name: "Work", owner: "ann", priority: 3, items: [] },
        { _id: "l4", name: "Holidays", owner: "cid", priority: 2, items: [{ title: "tickets", done: true }] },
        { _id: "l5", name: "Garden", owner: "bob", priority: 2 },
      ];
      beforeEach(async () => {
        await project(lists.map((list) => put(list)));
      });
      const ids = async (filter: Record<string, unknown>): Promise<string[]> => idsOf(await store.find("lists", filter, { sort: { _id: 1 } }));

      it("matches a case-insensitive regex", async () => {
        assert.deepEqual(await ids({ name: { $regex: "^grocer", $options: "i" } }), ["l1", "l2"]);
        assert.deepEqual(await ids({ name: { $regex: "^grocer" } }), ["l2"]);
      });

      it("matches fields of subdocuments inside arrays", async () => {
        assert.deepEqual(await ids({ "items.done": true }), ["l1", "l4"]);
        assert.deepEqual(await ids({ "items.title": { $in: ["cake", "tickets"] } }), ["l2", "l4"]);
        assert.deepEqual(await ids({ items: { $elemMatch: { title: "eggs", done: false } } }), ["l1"]);
        assert.deepEqual(await ids({ items: { $size: 0 } }), ["l3"]);
      });

      it("combines conditions with $and and $or", async () => {
        assert.deepEqual(await ids({ $and: [{ owner: "ann" }, { priority: { $gte: 3 } }] }), ["l3"]);
        assert.deepEqual(await ids({ $or: [{ owner: "cid" }, { priority: 1 }] }), ["l2", "l4"]);
        assert.deepEqual(await ids({ owner: "bob", $or: [{ items: { $exists: false } }, { "items.done": true }] }), ["l5"]);
      });

      it("compares with $gt, $lt, $in, $ne and $expr", async () => {
        assert.deepEqual(await ids({ priority: { $gt: 1, $lt: 3 } }), ["l1", "l4", "l5"]);
        assert.deepEqual(await ids({ owner: { $in: ["cid", "bob"] } }), ["l2", "l4", "l5"]);
        assert.deepEqual(await ids({ owner: { $ne: "bob" } }), ["l1", "l3", "l4"]);
        assert.deepEqual(await ids({ $expr: { $gt: ["$priority", 2] } }), ["l3"]);
      });

      it("sorts by several keys, descending included", async () => {
        const sorted = await store.find("lists", {}, { sort: { priority: -1, owner: 1, name: -1 } });
        assert.deepEqual(idsOf(sorted), ["l3", "l1", "l5", "l4", "l2"]);
        // Strings sort by code point, as in MongoDB without a collation: "groceries…" after "Garden".
        const byOwnerThenName = await store.find("lists", {}, { sort: { owner: 1, name: -1 } });
        assert.deepEqual(idsOf(byOwnerThenName), ["l3", "l1", "l2", "l5", "l4"]);
      });

      it("counts the documents a filter matches", async () => {
        assert.equal(await store.count("lists", {}), 5);
        assert.equal(await store.count("lists", { owner: "bob" }), 2);
        assert.equal(await store.count("lists", { "items.done": true }), 2);
        assert.equal(await store.count("nothing-here", {}), 0);
      });

      it("rejects a filter with an unknown operator", async () => {
        await assert.rejects(store.find("lists", { name: { $frobnicate: 1 } }), { name: "ViewStoreError", code: "INVALID_ARGUMENT" });
        await assert.rejects(store.count("lists", { name: { $frobnicate: 1 } }), { name: "ViewStoreError", code: "INVALID_ARGUMENT" });
      });
    });

    describe("paging", () => {
      it("skip and limit visit every document exactly once, in sort order, even across ties", async () => {
        // Three priorities for 23 documents: most sort keys tie, and the pages must still not overlap.
        const documents = Array.from({ length: 23 }, (_, index) => ({ _id: `d${String(index).padStart(2, "0")}`, priority: index % 3 }));
        await project(documents.reverse().map((document) => put(document)));
        const everything = idsOf(await store.find("lists", {}, { sort: { priority: -1 } }));
        const paged: string[] = [];
        for (let skip = 0; ; skip += 5) {
          const page = await store.find("lists", {}, { sort: { priority: -1 }, skip, limit: 5 });
          if (page.length === 0) break;
          assert.ok(page.length <= 5);
          paged.push(...idsOf(page));
        }
        assert.equal(paged.length, 23);
        assert.equal(new Set(paged).size, 23);
        assert.deepEqual(paged, everything);
        // Ties are broken by _id ascending: documents were written in reverse, so a merely stable sort would not pass.
        const expected = [...documents].sort((a, b) => b.priority - a.priority || a._id.localeCompare(b._id)).map((document) => document._id);
        assert.deepEqual(everything, expected);
        // Without a sort, documents come in _id order, so paging without a sort is stable too.
        assert.deepEqual(idsOf(await store.find("lists", {}, { limit: 3 })), ["d00", "d01", "d02"]);
      });

      it("a skip past the end returns nothing", async () => {
        await project([put({ _id: "l1" })]);
        assert.deepEqual(await store.find("lists", {}, { skip: 5, limit: 5 }), []);
      });
    });

    describe("checkpoints and atomicity", () => {
      it("a checkpoint is 0 until the consumer commits, and each consumer has its own", async () => {
        assert.equal(await store.checkpoint("lists-projector"), 0);
        await store.commit("lists-projector", 7, []);
        assert.equal(await store.checkpoint("lists-projector"), 7);
        assert.equal(await store.checkpoint("stats-projector"), 0);
      });

      it("a failing write rejects the whole commit: documents and checkpoint stay as they were", async () => {
        await store.commit("lists-projector", 1, [put({ _id: "l1", count: 1 })]);
        const failing = store.commit("lists-projector", 2, [
          put({ _id: "l2", name: "new" }),
          update("l1", { $inc: { count: 1 } }),
          { kind: "delete", collection: "lists", id: "l1" },
          put({ _id: "t1" }, "other"),
          update("l1", { $frobnicate: { count: 1 } }, true),
        ]);
        await assert.rejects(failing, (error: Error) => /frobnicate/.test(error.message));
        assert.equal(await store.checkpoint("lists-projector"), 1);
        assert.deepEqual(await store.find("lists", {}), [{ _id: "l1", count: 1 }]);
        assert.deepEqual(await store.find("other", {}), []);
        await store.commit("lists-projector", 2, [put({ _id: "l2", name: "retried" })]);
        assert.deepEqual(idsOf(await store.find("lists", {}, { sort: { _id: 1 } })), ["l1", "l2"]);
      });

      it("a redelivered commit (position at or below the checkpoint) changes nothing and resolves", async () => {
        await store.commit("lists-projector", 5, [put({ _id: "l1", count: 1 })]);
        await store.commit("lists-projector", 5, [update("l1", { $inc: { count: 1 } })]);
        await store.commit("lists-projector", 3, [put({ _id: "l2" }), { kind: "delete", collection: "lists", id: "l1" }]);
        assert.deepEqual(await store.find("lists", {}), [{ _id: "l1", count: 1 }]);
        assert.equal(await store.checkpoint("lists-projector"), 5);
      });

      it("another consumer's checkpoint does not make a commit look redelivered", async () => {
        await store.commit("lists-projector", 9, [put({ _id: "l1" })]);
        await store.commit("stats-projector", 2, [put({ _id: "s1" }, "stats")]);
        assert.ok(await store.findById("stats", "s1"));
      });
    });

    describe("unique indexes", () => {
      beforeEach(async () => {
        await store.ensureIndex("lists", { owner: 1, name: 1 }, { unique: true });
        await store.ensureIndex("lists", { owner: 1, name: 1 }, { unique: true });
        await store.ensureIndex("lists", { priority: -1 });
        await project([put({ _id: "l1", owner: "ann", name: "Groceries" }), put({ _id: "l2", owner: "bob", name: "Groceries" })]);
      });

      it("rejects a put that would duplicate a key, and changes nothing", async () => {
        const before = await store.checkpoint("lists-projector");
        await assert.rejects(
          store.commit("lists-projector", before + 1, [
            put({ _id: "l3", owner: "cid", name: "x" }),
            put({ _id: "l4", owner: "ann", name: "Groceries" }),
          ]),
          { name: "ViewStoreError", code: "DUPLICATE_KEY" },
        );
        assert.equal(await store.checkpoint("lists-projector"), before);
        assert.deepEqual(idsOf(await store.find("lists", {}, { sort: { _id: 1 } })), ["l1", "l2"]);
      });

      it("rejects an update that would duplicate a key, and two writes of one commit that collide", async () => {
        await assert.rejects(project([update("l2", { $set: { owner: "ann" } })]), { code: "DUPLICATE_KEY" });
        await assert.rejects(
          project([put({ _id: "l3", owner: "cid", name: "A" }), put({ _id: "l4", owner: "cid", name: "A" })]),
          { code: "DUPLICATE_KEY" },
        );
        assert.equal(await store.count("lists", {}), 2);
      });

      it("frees a key when its document is deleted or changed", async () => {
        await project([{ kind: "delete", collection: "lists", id: "l1" }, put({ _id: "l3", owner: "ann", name: "Groceries" })]);
        await project([update("l2", { $set: { name: "Food" } })]);
        await project([put({ _id: "l4", owner: "bob", name: "Groceries" })]);
        assert.deepEqual(idsOf(await store.find("lists", {}, { sort: { _id: 1 } })), ["l2", "l3", "l4"]);
      });

      it("allows rewriting a document with its own key", async () => {
        await project([put({ _id: "l1", owner: "ann", name: "Groceries", extra: true })]);
        assert.equal((await store.findById("lists", "l1"))?.["extra"], true);
      });
    });

    describe("watch", () => {
      const collect = (collection = "lists"): { changes: ViewChange[]; stop: () => void } => {
        const changes: ViewChange[] = [];
        const stop = store.watch(collection, (change) => changes.push(change));
        return { changes, stop };
      };
      const eventually = async (condition: () => boolean): Promise<void> => {
        const deadline = Date.now() + 2_000;
        while (!condition()) {
          if (Date.now() > deadline) assert.fail("timed out waiting for watch notifications");
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      };

      it("notifies each changed document of the watched collection with the commit's position", async () => {
        const { changes } = collect();
        const position = await project([put({ _id: "l1" }), put({ _id: "l2" }), put({ _id: "x" }, "other"), update("ghost", { $set: { a: 1 } })]);
        await eventually(() => changes.length >= 2);
        assert.deepEqual(
          [...changes].sort((a, b) => a.id.localeCompare(b.id)),
          [
            { collection: "lists", id: "l1", position },
            { collection: "lists", id: "l2", position },
          ],
        );
      });

      it("a listener sees the committed state", async () => {
        const seen: (ViewDocument | undefined)[] = [];
        store.watch("lists", (change) => void store.findById("lists", change.id).then((document) => seen.push(document)));
        await project([put({ _id: "l1", name: "Groceries" })]);
        await eventually(() => seen.length === 1);
        assert.deepEqual(seen, [{ _id: "l1", name: "Groceries" }]);
      });

      it("says nothing for a rejected or redelivered commit", async () => {
        const { changes } = collect();
        const first = await project([put({ _id: "l1" })]);
        await eventually(() => changes.length === 1);
        await assert.rejects(store.commit("lists-projector", first + 1, [put({ _id: "l2" }), update("l1", { $frobnicate: {} })]));
        await store.commit("lists-projector", first, [put({ _id: "l3" })]);
        const sentinel = await project([put({ _id: "sentinel" })]);
        await eventually(() => changes.some((change) => change.id === "sentinel"));
        assert.deepEqual(changes.map((change) => [change.id, change.position]), [["l1", first], ["sentinel", sentinel]]);
      });

      it("stops after unsubscribe", async () => {
        const { changes, stop } = collect();
        const { changes: sentinelChanges } = collect();
        stop();
        await project([put({ _id: "l1" })]);
        await eventually(() => sentinelChanges.length === 1);
        assert.deepEqual(changes, []);
      });

      it("with an id, notifies that document's changes only, beside the collection's listeners", async () => {
        const mine: ViewChange[] = [];
        const stopMine = store.watch("lists", (change) => mine.push(change), { id: "l2" });
        const other: ViewChange[] = [];
        store.watch("other", (change) => other.push(change), { id: "l2" });
        const { changes: all } = collect();
        const first = await project([put({ _id: "l1" }), put({ _id: "l2" })]);
        await project([put({ _id: "l1", again: true })]);
        const last = await project([put({ _id: "l2", again: true })]);
        await eventually(() => all.length === 4 && mine.length === 2);
        assert.deepEqual(mine, [
          { collection: "lists", id: "l2", position: first },
          { collection: "lists", id: "l2", position: last },
        ]);
        assert.deepEqual(other, [], "a document of another collection with the same id");
        stopMine();
        stopMine();
        const sentinel = await project([put({ _id: "l2", third: true })]);
        await eventually(() => all.some((change) => change.position === sentinel));
        assert.equal(mine.length, 2, "nothing after unsubscribe");
        assert.throws(() => store.watch("lists", () => undefined, { id: 7 as unknown as string }), { code: "INVALID_ARGUMENT" });
      });

      it("a listener that throws breaks neither the commit nor the other listeners", async () => {
        store.watch("lists", () => {
          throw new Error("listener bug");
        });
        const { changes } = collect();
        await project([put({ _id: "l1" })]);
        await eventually(() => changes.length === 1);
        assert.ok(await store.findById("lists", "l1"));
      });
    });

    runGenerationContract(() => store);

    describe("copies", () => {
      it("a caller mutating a returned document does not change the store", async () => {
        await project([put({ _id: "l1", name: "Groceries", items: [{ title: "milk" }] })]);
        const byId = await store.findById("lists", "l1");
        assert.ok(byId);
        byId["name"] = "changed";
        (byId["items"] as { title: string }[])[0].title = "changed";
        const [found] = await store.find("lists", {});
        assert.ok(found);
        (found["items"] as unknown[]).push("changed");
        assert.deepEqual(await store.findById("lists", "l1"), { _id: "l1", name: "Groceries", items: [{ title: "milk" }] });
      });

      it("a caller mutating a written document or update afterwards does not change the store", async () => {
        const document = { _id: "l1", items: [{ title: "milk" }] };
        const item = { title: "eggs", tags: ["fresh"] };
        await project([put(document), update("l1", { $push: { items: item } })]);
        document.items[0].title = "changed";
        item.tags.push("changed");
        assert.deepEqual(await store.findById("lists", "l1"), { _id: "l1", items: [{ title: "milk" }, { title: "eggs", tags: ["fresh"] }] });
      });
    });
  });
}
