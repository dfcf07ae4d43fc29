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
    cache.remember("l1", history, "state@3", 120);
    assert.deepEqual(cache.startFor("l1", [...history, added(4, 13)]), { state: "state@3", sequence: 3, nextIndex: 3, bytes: 120 });
  });

  it("folds in full when the event at the cached sequence is another (a replaced store), or history starts after it", () => {
    const cache = new AggregateStateCache<string>(10);
    cache.remember("l1", [created(10), added(2, 11)], "state@2", 80);
    assert.equal(cache.startFor("l1", [created(10), added(2, 99), added(3, 100)]), undefined);
    assert.equal(cache.startFor("l1", [created(10), { ...added(2, 11), commandId: "another" }, added(3, 12)]), undefined, "a fresh store reusing positions");
    assert.equal(cache.startFor("l1", [added(3, 12), added(4, 13)]), undefined, "a snapshot past the cached state");
    assert.equal(cache.startFor("l1", []), undefined);
    assert.equal(cache.startFor("other", [created(10), added(2, 11)]), undefined);
  });

  it("forgets the least recently used aggregate beyond its capacity", () => {
    const cache = new AggregateStateCache<string>(1);
    cache.remember("l1", [created(10)], "l1@1", 10);
    cache.remember("l2", [{ ...created(20), aggregateId: "l2" }], "l2@1", 10);
    assert.equal(cache.startFor("l1", [created(10), added(2, 11)]), undefined);
  });

  it("forgets the least recently used states beyond its bytes, keeps one of exactly its bytes, and none larger", () => {
    const cache = new AggregateStateCache<string>(100, 100);
    const history = (id: string) => [{ ...created(10), aggregateId: id }];
    cache.remember("a", history("a"), "a", 40);
    cache.remember("b", history("b"), "b", 40);
    assert.ok(cache.startFor("a", history("a")) !== undefined, "a is now the most recently used");
    cache.remember("c", history("c"), "c", 40);
    assert.deepEqual(["a", "b", "c"].map((id) => cache.startFor(id, history(id))?.state), ["a", undefined, "c"]);
    assert.equal(cache.bytes, 80);
    cache.remember("a", history("a"), "a again", 60);
    assert.equal(cache.bytes, 100, "a replaced, not counted twice");
    cache.remember("d", history("d"), "d", 100);
    assert.deepEqual(["a", "c", "d"].map((id) => cache.startFor(id, history(id))?.state), [undefined, undefined, "d"]);
    cache.remember("e", history("e"), "e", 101);
    assert.equal(cache.startFor("e", history("e")), undefined);
    assert.equal(cache.bytes, 100, "d stays: a state too large to keep evicts nothing");
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
    assert.equal(cache.bytes, second.reduce((sum, e) => sum + e.payload.length, 0), "counted: the payloads folded");
  });

  it("keeps the states of many small aggregates within its bytes, as the TodoList's cache does", async () => {
    const { maxAggregates, maxBytes } = todoListAggregate.stateCache!;
    const cache = new AggregateStateCache<Parameters<typeof todoListAggregate.evolve>[0]>(maxAggregates, maxBytes);
    const runner = commandRunner(todoListAggregate, "addTodoItem", cache);
    // More lists than the 1,000 the TodoList kept before: a round over them all must find each one cached.
    const lists = 2_000;
    const historyOf = (list: number) => [{ ...created(list), aggregateId: `l${list}` }];
    const dispatchTo = (list: number) => ({ ...dispatch(historyOf(list), `i${list}`), aggregateId: `l${list}` });
    for (let list = 0; list < lists; list++) await run(runner, dispatchTo(list));
    for (let list = 0; list < lists; list++) assert.ok(cache.startFor(`l${list}`, historyOf(list)) !== undefined, `list ${list} is cached`);
  });
});
