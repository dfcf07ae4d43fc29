import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { GenerationalViewStore, type ViewChange, type ViewStore, type ViewWrite } from "@recq-mesh/kit";

/**
 * The view store contract, continued: dropping collections and checkpoints, and generations of a projection's views
 * (GenerationalViewStore) over the adapter — what rebuilding a projection while it serves stands on. `store()` is the
 * fresh, empty store of the running test.
 */
export function runGenerationContract(store: () => ViewStore): void {
  const put = (id: string, fields: Record<string, unknown> = {}, collection = "lists"): ViewWrite => ({ kind: "put", collection, document: { _id: id, ...fields } });
  const eventually = async (condition: () => boolean): Promise<void> => {
    const deadline = Date.now() + 5_000;
    while (!condition()) {
      if (Date.now() > deadline) assert.fail("timed out waiting for watch notifications");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  describe("drops", () => {
    it("dropCollection removes the documents of one collection only; dropping a missing one does nothing", async () => {
      await store().commit("p", 1, [put("l1"), put("o1", {}, "other")]);
      await store().dropCollection("lists");
      await store().dropCollection("never-made");
      assert.equal(await store().findById("lists", "l1"), undefined);
      assert.equal(await store().count("lists", {}), 0);
      assert.ok(await store().findById("other", "o1"));
      await store().commit("p", 2, [put("l2")]);
      assert.deepEqual(await store().findById("lists", "l2"), { _id: "l2" });
    });

    it("dropCheckpoint makes a consumer's checkpoint read 0 again, and leaves the others", async () => {
      await store().commit("p", 5, []);
      await store().commit("q", 7, []);
      await store().dropCheckpoint("p");
      await store().dropCheckpoint("unknown");
      assert.equal(await store().checkpoint("p"), 0);
      assert.equal(await store().checkpoint("q"), 7);
      await store().commit("p", 1, [put("l1")]);
      assert.equal(await store().checkpoint("p"), 1);
    });
  });

  describe("generations", () => {
    it("starts at generation 1 with the plain names, so views kept from before need no migration", async () => {
      await store().commit("lists-projector", 3, [put("l1", { name: "kept" })]);
      const views = await GenerationalViewStore.open(store(), "lists-projection");
      assert.equal(views.generation, 1);
      assert.deepEqual(await views.findById("lists", "l1"), { _id: "l1", name: "kept" });
      assert.equal(await views.checkpoint("lists-projector"), 3);
    });

    it("writes a new generation apart while the current one is read, then switches, dropping the old one", async () => {
      const views = await GenerationalViewStore.open(store(), "lists-projection");
      await views.commit("lists-projector", 2, [put("l1", { name: "old" })]);
      const next = views.generationHandle(2);
      await next.ensureIndex("lists", { name: 1 });
      await next.commit("lists-projector", 1, [put("l1", { name: "new" }), put("l2", { name: "new" })]);
      assert.equal(await next.checkpoint("lists-projector"), 1);
      assert.deepEqual(await views.findById("lists", "l1"), { _id: "l1", name: "old" });
      assert.equal(await views.count("lists", {}), 1);
      assert.equal(await views.checkpoint("lists-projector"), 2);

      await views.switchTo(2);
      assert.equal(views.generation, 2);
      assert.deepEqual(await views.findById("lists", "l1"), { _id: "l1", name: "new" });
      assert.equal(await views.count("lists", {}), 2);
      assert.equal(await views.checkpoint("lists-projector"), 1);
      // The old generation is gone from the store itself: its collection and its checkpoint.
      assert.equal(await store().count("lists", {}), 0);
      assert.equal(await store().checkpoint("lists-projector"), 0);
      assert.equal(await store().count("lists~g2", {}), 2);
    });

    it("persists the current generation: a store opened again reads it", async () => {
      const views = await GenerationalViewStore.open(store(), "lists-projection");
      await views.generationHandle(2).commit("lists-projector", 1, [put("l1")]);
      await views.switchTo(2);
      const reopened = await GenerationalViewStore.open(store(), "lists-projection");
      assert.equal(reopened.generation, 2);
      assert.ok(await reopened.findById("lists", "l1"));
      const other = await GenerationalViewStore.open(store(), "another-projection");
      assert.equal(other.generation, 1);
    });

    it("keeps watchers: after a switch they hear the new generation's changes, and no longer the old one's", async () => {
      const views = await GenerationalViewStore.open(store(), "lists-projection");
      const seen: ViewChange[] = [];
      const stop = views.watch("lists", (change) => seen.push(change), { id: "l1" });
      await views.commit("lists-projector", 1, [put("l1", { n: 1 })]);
      await eventually(() => seen.length === 1);
      const old = views.generationHandle(1);
      await views.generationHandle(2).commit("lists-projector", 1, [put("l1", { n: 1 })]);
      await views.switchTo(2);
      await old.commit("lists-projector", 9, [put("l1", { n: "stale" })]);
      await views.commit("lists-projector", 2, [put("l1", { n: 2 })]);
      await eventually(() => seen.length === 2);
      assert.deepEqual(seen.map((change) => change.position), [1, 2]);
      stop();
      await views.commit("lists-projector", 3, [put("l1", { n: 3 })]);
      await views.commit("lists-projector", 4, [put("sentinel")]);
      assert.equal(seen.length, 2);
    });

    it("a standby's store follows a switch made elsewhere without dropping anything", async () => {
      const active = await GenerationalViewStore.open(store(), "lists-projection");
      const standby = await GenerationalViewStore.open(store(), "lists-projection");
      await active.generationHandle(2).commit("lists-projector", 1, [put("l1", { name: "new" })]);
      await active.switchTo(2);
      standby.follow(2);
      assert.equal(standby.generation, 2);
      assert.deepEqual(await standby.findById("lists", "l1"), { _id: "l1", name: "new" });
    });

    it("refuses a generation that is not a positive integer; a switch to the current one or lower changes nothing", async () => {
      const views = await GenerationalViewStore.open(store(), "lists-projection");
      assert.throws(() => views.generationHandle(0), { code: "INVALID_ARGUMENT" });
      await assert.rejects(views.switchTo(1.5), { code: "INVALID_ARGUMENT" });
      await views.commit("lists-projector", 1, [put("l1")]);
      await views.switchTo(1);
      assert.equal(views.generation, 1);
      assert.ok(await views.findById("lists", "l1"));
    });
  });
}
