import assert from "node:assert/strict";
import { afterEach, describe, test } from "@jest/globals";
import type { ParkedEntry, ParkedEventStore } from "@recq-mesh/gateway/internal/consumers/dead-events/parked-event-store";

/** A store under test; `reopen` closes it and opens the same store again, as a gateway restart does. */
export interface ParkedStoreUnderTest {
  store: ParkedEventStore;
  reopen(): Promise<ParkedEventStore>;
  close(): Promise<void>;
}

export function parkedEntry(position: number, overrides: Partial<ParkedEntry> = {}): ParkedEntry {
  return {
    consumer: "todo-lists",
    position,
    aggregateType: "TodoList",
    aggregateId: "groceries",
    eventType: "todo.v1.TodoItemAdded",
    error: "",
    attempts: 0,
    parkedAtMs: 1_760_000_000_000 + position,
    ...overrides,
  };
}

/** The contract every ParkedEventStore adapter keeps. */
export function runParkedEventStoreContract(name: string, open: () => Promise<ParkedStoreUnderTest>): void {
  describe(`ParkedEventStore contract: ${name}`, () => {
    let current: ParkedStoreUnderTest | undefined;
    afterEach(async () => {
      await current?.close();
      current = undefined;
    });

    test("keeps every entry parked and not removed across a reopen, with all its fields, in (consumer, position) order", async () => {
      current = await open();
      const head = parkedEntry(7, { error: "cannot apply", attempts: 5 });
      const behind = parkedEntry(9);
      const other = parkedEntry(3, { consumer: "audit", aggregateId: "other", eventType: "todo.v1.TodoListCreated" });
      const gone = parkedEntry(12, { aggregateId: "skipped" });
      await current.store.park([head, behind]);
      await current.store.park([other, gone]);
      await current.store.remove("todo-lists", [12, 400]);
      assert.deepEqual(await current.store.all(), [other, head, behind]);
      const reopened = await current.reopen();
      assert.deepEqual(await reopened.all(), [other, head, behind]);
    });

    test("keeps the first entry when one is parked again for the same consumer and position", async () => {
      current = await open();
      await current.store.park([parkedEntry(4, { error: "first", attempts: 3 })]);
      await current.store.park([parkedEntry(4, { error: "second", attempts: 1 }), parkedEntry(5)]);
      assert.deepEqual(await current.store.all(), [parkedEntry(4, { error: "first", attempts: 3 }), parkedEntry(5)]);
    });

    test("records a later failure's error and attempts, durably; one for an entry not held changes nothing", async () => {
      current = await open();
      await current.store.park([parkedEntry(4, { error: "first", attempts: 3 })]);
      await current.store.recordFailure("todo-lists", 4, "again", 6);
      await current.store.recordFailure("todo-lists", 99, "nothing", 1);
      const reopened = await current.reopen();
      assert.deepEqual(await reopened.all(), [parkedEntry(4, { error: "again", attempts: 6 })]);
    });

    test("removes every entry of the named consumers durably, and nothing of the others", async () => {
      current = await open();
      const kept = [parkedEntry(2, { consumer: "todo-lists~g3" }), parkedEntry(5, { consumer: "todo-lists~g3", aggregateId: "other" })];
      await current.store.park([parkedEntry(2), parkedEntry(6), parkedEntry(2, { consumer: "todo-lists~g2" }), ...kept]);
      await current.store.removeConsumers(["todo-lists", "todo-lists~g2", "never-parked"]);
      await current.store.removeConsumers([]);
      assert.deepEqual(await current.store.all(), kept);
      const reopened = await current.reopen();
      assert.deepEqual(await reopened.all(), kept);
    });

    test("removes only the named consumer's entries", async () => {
      current = await open();
      await current.store.park([parkedEntry(4), parkedEntry(4, { consumer: "audit" })]);
      await current.store.remove("todo-lists", [4]);
      assert.deepEqual(await current.store.all(), [parkedEntry(4, { consumer: "audit" })]);
    });
  });
}
