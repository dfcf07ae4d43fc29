import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { GroupCommitQueue, takeBatch, type GroupCommitItem } from "@recq-mesh/gateway/internal/store/group-commit-queue";

interface Item extends GroupCommitItem {
  name: string;
  failed?: Error;
}

const item = (name: string, bytes = 1, batchKey = name): Item => {
  const created: Item = { name, bytes, batchKey, fail: (error) => (created.failed = error) };
  return created;
};
const names = (items: readonly Item[]) => items.map((i) => i.name);

describe("group commit: taking batches", () => {
  it("takes items in arrival order, up to the item and byte bounds", () => {
    const queue = [item("a", 4), item("b", 4), item("c", 4), item("d", 1)];
    assert.deepEqual(names(takeBatch(queue, { maxItems: 10, maxBytes: 8 })), ["a", "b"]);
    assert.deepEqual(names(takeBatch(queue, { maxItems: 1, maxBytes: 100 })), ["c"]);
    assert.deepEqual(names(takeBatch(queue, { maxItems: 10, maxBytes: 100 })), ["d"]);
    assert.deepEqual(takeBatch(queue, { maxItems: 10, maxBytes: 100 }), []);
  });

  it("lets an item larger than the byte bound go alone", () => {
    const queue = [item("huge", 50), item("small", 1)];
    assert.deepEqual(names(takeBatch(queue, { maxItems: 10, maxBytes: 10 })), ["huge"]);
    assert.deepEqual(names(queue), ["small"]);
  });

  it("leaves an item whose key is already in the batch for the next one", () => {
    const queue = [item("first", 1, "cmd"), item("other", 1), item("again", 1, "cmd")];
    assert.deepEqual(names(takeBatch(queue, { maxItems: 10, maxBytes: 10 })), ["first", "other"]);
    assert.deepEqual(names(takeBatch(queue, { maxItems: 10, maxBytes: 10 })), ["again"]);
  });
});

describe("group commit: the queue", () => {
  it("runs what was enqueued in one event-loop turn as one batch, and what came meanwhile as the next", async () => {
    const batches: string[][] = [];
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const queue = new GroupCommitQueue<Item>({ maxItems: 100, maxBytes: 100 }, async (batch) => {
      batches.push(names(batch));
      if (batches.length === 1) await firstHeld;
    });
    for (const name of ["a", "b", "c"]) queue.enqueue(item(name));
    await new Promise((resolve) => setImmediate(resolve));
    queue.enqueue(item("d"));
    queue.enqueue(item("e"));
    releaseFirst();
    await queue.whenIdle();
    assert.deepEqual(batches, [["a", "b", "c"], ["d", "e"]]);
  });

  it("fails every item of a batch whose run throws, and goes on with the next", async () => {
    const items = [item("a"), item("b")];
    let runs = 0;
    const queue = new GroupCommitQueue<Item>({ maxItems: 1, maxBytes: 100 }, async () => {
      runs += 1;
      if (runs === 1) throw new Error("transaction failed");
    });
    for (const queued of items) queue.enqueue(queued);
    await queue.whenIdle();
    assert.equal(items[0]?.failed?.message, "transaction failed");
    assert.equal(items[1]?.failed, undefined);
    assert.equal(runs, 2);
  });

  it("is idle at once when nothing is queued, and waits for a batch that runs", async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const queue = new GroupCommitQueue<Item>({ maxItems: 1, maxBytes: 1 }, () => {
      runs += 1;
      return new Promise<void>((resolve) => (release = resolve));
    });
    // "At once" is before anything the event loop does next: a setImmediate callback must lose the race.
    const idleOrLater = (turns: number) => {
      const later = new Promise((resolve) => {
        const next = (left: number) => setImmediate(() => (left === 0 ? resolve("later") : next(left - 1)));
        next(turns);
      });
      return Promise.race([queue.whenIdle().then(() => "idle"), later]);
    };
    assert.equal(await idleOrLater(0), "idle");
    assert.equal(runs, 0);
    queue.enqueue(item("a"));
    assert.equal(await idleOrLater(3), "later", "not idle while its batch runs");
    assert.equal(runs, 1);
    release();
    await queue.whenIdle();
    assert.equal(await idleOrLater(0), "idle", "idle at once again once the batch is done");
  });
});
