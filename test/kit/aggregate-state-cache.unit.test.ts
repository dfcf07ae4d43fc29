import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import type { Dispatch, Reply } from "@recq-mesh/protocol/gen/recq/v1/link";
import { AddTodoItem } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoItemAdded, TodoListCreated } from "@recq-mesh/todo/gen/todo/v1/events";
import { AggregateStateCache } from "@recq-mesh/kit/internal/handlers/aggregate-state-cache";
import { commandRunner } from "@recq-mesh/kit/internal/handlers/command-runner";
import { todoListAggregate } from "@recq-mesh/todo";

const created = (position: number): EventEnvelope => envelope(1, position, "todo.v1.TodoListCreated", TodoListCreated.encode({ listId: "l1", name: "L" }).finish());
const added = (sequence: number, position: number, itemId = `i${sequence}`): EventEnvelope =>
  envelope(sequence, position, "todo.v1.TodoItemAdded", TodoItemAdded.encode({ listId: "l1", itemId, text: "t" }).finish());

function envelope(sequence: number, position: number, type: string, payload: Uint8Array): EventEnvelope {
  return { position: String(position), aggregateType: "todo.v1.TodoList", aggregateId: "l1", sequence: String(sequence), type, payload: Buffer.from(payload), time: new Date(0), commandId: `c${sequence}`, metadata: {} };
}

describe("AggregateStateCache", () => {
  it("starts after the cached event when the history holds it at the same position", () => {
    const cache = new AggregateStateCache<string>(10);
    const history = [created(10), added(2, 11), added(3, 12)];
    cache.remember("l1", history, "state@3");
    assert.deepEqual(cache.startFor("l1", [...history, added(4, 13)]), { state: "state@3", sequence: 3, nextIndex: 3 });
  });

  it("folds in full when the event at the cached sequence is another (a replaced store), or history starts after it", () => {
    const cache = new AggregateStateCache<string>(10);
    cache.remember("l1", [created(10), added(2, 11)], "state@2");
    assert.equal(cache.startFor("l1", [created(10), added(2, 99), added(3, 100)]), undefined);
    assert.equal(cache.startFor("l1", [created(10), { ...added(2, 11), commandId: "another" }, added(3, 12)]), undefined, "a fresh store reusing positions");
    assert.equal(cache.startFor("l1", [added(3, 12), added(4, 13)]), undefined, "a snapshot past the cached state");
    assert.equal(cache.startFor("l1", []), undefined);
    assert.equal(cache.startFor("other", [created(10), added(2, 11)]), undefined);
  });

  it("forgets the least recently used aggregate beyond its capacity", () => {
    const cache = new AggregateStateCache<string>(1);
    cache.remember("l1", [created(10)], "l1@1");
    cache.remember("l2", [{ ...created(20), aggregateId: "l2" }], "l2@1");
    assert.equal(cache.startFor("l1", [created(10), added(2, 11)]), undefined);
  });
});

describe("commandRunner with a state cache", () => {
  const run = (runner: ReturnType<typeof commandRunner>, dispatch: Dispatch): Promise<Reply["outcome"]> =>
    new Promise((resolve) => runner(dispatch, {}, resolve, { signal: new AbortController().signal }));
  const dispatch = (history: EventEnvelope[], itemId: string): Dispatch => ({
    requestId: 1,
    requestStream: false,
    answerWindow: 0,
    method: "todo.v1.TodoListCommandService/AddTodoItem",
    payload: Buffer.from(AddTodoItem.encode({ listId: "l1", itemId, text: "t" }).finish()),
    commandId: `cmd-${itemId}`,
    aggregateId: "l1",
    snapshot: undefined,
    history,
    timeoutMs: 0,
    headers: {},
  });

  it("folds only the events after the cached state, and decides the same as a full fold", async () => {
    let evolved = 0;
    const counting = { ...todoListAggregate, evolve: (state: Parameters<typeof todoListAggregate.evolve>[0], event: Parameters<typeof todoListAggregate.evolve>[1]) => (evolved++, todoListAggregate.evolve(state, event)) };
    const cache = new AggregateStateCache<Parameters<typeof todoListAggregate.evolve>[0]>(10);
    const cached = commandRunner(counting, "addTodoItem", cache);
    const full = commandRunner(todoListAggregate, "addTodoItem");
    const first = [created(10), added(2, 11), added(3, 12)];
    await run(cached, dispatch(first, "i9"));
    assert.equal(evolved, 3);
    const second = [...first, added(4, 13)];
    evolved = 0;
    const outcome = await run(cached, dispatch(second, "i3"));
    assert.equal(evolved, 1, "only the event after the cached state");
    assert.deepEqual(outcome, await run(full, dispatch(second, "i3")), "the same decision (i3 already exists) as folding it all");
    assert.equal(outcome?.$case, "failure");
    assert.match(outcome.value.message, /already has an item i3/);
  });
});
