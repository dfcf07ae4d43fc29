import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError, type CommandContext } from "@recq-mesh/kit";
import { evolve, MAX_ID_LENGTH, MAX_ITEMS_PER_LIST, todoListAggregate } from "@recq-mesh/todo/internal/todo-list-aggregate";
import type { TodoEvent, TodoListDocument } from "@recq-mesh/todo";
import { project } from "@recq-mesh/todo/internal/todo-list-projection";

const context: CommandContext = { commandId: "c", aggregateId: "l", sequence: 0, headers: {}, signal: new AbortController().signal };
const given = (...events: TodoEvent[]) => events.reduce(evolve, todoListAggregate.initialState());
const created: TodoEvent = { type: "todo.v1.TodoListCreated", data: { listId: "l", name: "List" } };
const added = (itemId: string): TodoEvent => ({ type: "todo.v1.TodoItemAdded", data: { listId: "l", itemId, text: itemId } });

function rejects(run: () => unknown, code: status, message: RegExp): void {
  assert.throws(run, (error: unknown) => error instanceof MeshError && error.code === code && message.test(error.message));
}

describe("TodoList aggregate (given events, when a command, then events or a rejection)", () => {
  const { decide } = todoListAggregate;

  it("creates a list once", () => {
    assert.deepEqual(decide.createTodoList({ listId: "l", name: " List " }, given(), context), [created]);
    rejects(() => decide.createTodoList({ listId: "l", name: "Again" }, given(created), context), status.ALREADY_EXISTS, /already exists/);
    rejects(() => decide.createTodoList({ listId: "l", name: "" }, given(), context), status.INVALID_ARGUMENT, /name is required/);
  });

  it("adds, completes and removes items, idempotently where it can", () => {
    const state = given(created, added("a"));
    assert.deepEqual(decide.completeTodoItem({ listId: "l", itemId: "a" }, state, context), [{ type: "todo.v1.TodoItemCompleted", data: { listId: "l", itemId: "a" } }]);
    const completed = evolve(state, { type: "todo.v1.TodoItemCompleted", data: { listId: "l", itemId: "a" } });
    assert.deepEqual(decide.completeTodoItem({ listId: "l", itemId: "a" }, completed, context), [], "completing twice changes nothing");
    rejects(() => decide.addTodoItem({ listId: "l", itemId: "a", text: "A" }, state, context), status.ALREADY_EXISTS, /already has an item a/);
    rejects(() => decide.removeTodoItem({ listId: "l", itemId: "zz" }, state, context), status.NOT_FOUND, /has no item zz/);
    assert.deepEqual(decide.renameTodoList({ listId: "l", name: "List" }, state, context), [], "the same name is no change");
  });

  it("refuses everything on a missing or deleted list", () => {
    rejects(() => decide.addTodoItem({ listId: "l", itemId: "a", text: "A" }, given(), context), status.NOT_FOUND, /does not exist/);
    const deleted = given(created, { type: "todo.v1.TodoListDeleted", data: { listId: "l" } });
    rejects(() => decide.addTodoItem({ listId: "l", itemId: "a", text: "A" }, deleted, context), status.FAILED_PRECONDITION, /is deleted/);
    rejects(() => decide.deleteTodoList({ listId: "l" }, deleted, context), status.FAILED_PRECONDITION, /is deleted/);
  });

  it("refuses ids longer than MAX_ID_LENGTH characters, and takes them at the limit", () => {
    const longest = "x".repeat(MAX_ID_LENGTH);
    assert.deepEqual(decide.createTodoList({ listId: longest, name: "List" }, given(), context), [{ type: "todo.v1.TodoListCreated", data: { listId: longest, name: "List" } }]);
    rejects(() => decide.createTodoList({ listId: `${longest}x`, name: "List" }, given(), context), status.INVALID_ARGUMENT, /list_id is longer than 200 characters/);
    const state = given(created, added("a"));
    rejects(() => decide.completeTodoItem({ listId: "l", itemId: `${longest}x` }, state, context), status.INVALID_ARGUMENT, /item_id is longer than 200 characters/);
    rejects(() => decide.removeTodoItem({ listId: "l", itemId: longest }, state, context), status.NOT_FOUND, /has no item/);
  });

  it("keeps an item id as it was sent, and requires it on every item command", () => {
    const state = given(created, added(" bread "));
    assert.deepEqual(decide.completeTodoItem({ listId: "l", itemId: " bread " }, state, context), [
      { type: "todo.v1.TodoItemCompleted", data: { listId: "l", itemId: " bread " } },
    ]);
    rejects(() => decide.completeTodoItem({ listId: "l", itemId: "bread" }, state, context), status.NOT_FOUND, /has no item bread/);
    assert.deepEqual(decide.addTodoItem({ listId: "l", itemId: " milk ", text: " Milk " }, state, context), [
      { type: "todo.v1.TodoItemAdded", data: { listId: "l", itemId: " milk ", text: "Milk" } },
    ]);
    for (const command of ["addTodoItem", "completeTodoItem", "removeTodoItem"] as const) {
      rejects(() => decide[command]({ listId: "l", itemId: "", text: "x" }, state, context), status.INVALID_ARGUMENT, /item_id is required/);
    }
  });

  it("caps a list's items", () => {
    const full = given(created, ...Array.from({ length: MAX_ITEMS_PER_LIST }, (_, i) => added(`i${i}`)));
    rejects(() => decide.addTodoItem({ listId: "l", itemId: "one-more", text: "x" }, full, context), status.FAILED_PRECONDITION, /at most|most items/);
  });
});

describe("TodoList projection", () => {
  const meta = (sequence: number) => ({ position: sequence, aggregateId: "l", sequence, timeMs: 1_000 * sequence, commandId: "c" });

  it("keeps counts and completion, and ignores an event it already reflects", () => {
    let document = project(undefined, created, meta(1)) as TodoListDocument;
    document = project(document, added("a"), meta(2))!;
    document = project(document, { type: "todo.v1.TodoItemCompleted", data: { listId: "l", itemId: "a" } }, meta(3))!;
    assert.deepEqual([document.itemCount, document.completedCount, document.complete, document.version, document.updatedAtMs], [1, 1, true, 3, 3000]);
    assert.equal(project(document, added("b"), meta(2)), undefined, "a redelivered event changes nothing");
  });
});
