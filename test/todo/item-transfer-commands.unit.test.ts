import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError, type CommandContext } from "@recq-mesh/kit";
import { evolve, todoListAggregate } from "@recq-mesh/todo/internal/todo-list-aggregate";
import type { TodoEvent } from "@recq-mesh/todo";

const at = (sequence: number): CommandContext => ({ commandId: "c", aggregateId: "l", sequence, headers: {}, signal: new AbortController().signal });
const given = (...events: TodoEvent[]) => events.reduce(evolve, todoListAggregate.initialState());
const created: TodoEvent = { type: "todo.v1.TodoListCreated", data: { listId: "l", name: "List" } };
const added: TodoEvent = { type: "todo.v1.TodoItemAdded", data: { listId: "l", itemId: "a", text: "Milk" } };
const requested: TodoEvent = { type: "todo.v1.TodoItemTransferRequested", data: { listId: "l", itemId: "a", targetListId: "t", text: "Milk", transferId: "l@3" } };

function rejects(run: () => unknown, code: status, message: RegExp): void {
  assert.throws(run, (error: unknown) => error instanceof MeshError && error.code === code && message.test(error.message));
}

describe("TodoList aggregate: moving an item (given events, when a command, then events or a rejection)", () => {
  const { decide } = todoListAggregate;

  it("requests a move with the item's text and a transfer id of the list and the event's sequence", () => {
    assert.deepEqual(decide.requestTodoItemTransfer({ listId: "l", itemId: "a", targetListId: "t" }, given(created, added), at(2)), [requested]);
  });

  it("refuses a move to the same list, without a target, of a missing item, or of an item already moving", () => {
    const state = given(created, added);
    rejects(() => decide.requestTodoItemTransfer({ listId: "l", itemId: "a", targetListId: "l" }, state, at(2)), status.INVALID_ARGUMENT, /another list/);
    rejects(() => decide.requestTodoItemTransfer({ listId: "l", itemId: "a", targetListId: "" }, state, at(2)), status.INVALID_ARGUMENT, /target_list_id is required/);
    rejects(() => decide.requestTodoItemTransfer({ listId: "l", itemId: "b", targetListId: "t" }, state, at(2)), status.NOT_FOUND, /has no item b/);
    const moving = given(created, added, requested);
    rejects(() => decide.requestTodoItemTransfer({ listId: "l", itemId: "a", targetListId: "u" }, moving, at(3)), status.FAILED_PRECONDITION, /is being moved \(transfer l@3\)/);
    rejects(() => decide.removeTodoItem({ listId: "l", itemId: "a" }, moving, at(3)), status.FAILED_PRECONDITION, /is being moved/);
  });

  it("completes the move (the item leaves) or cancels it (the item stays, free to move again), for its transfer only", () => {
    const moving = given(created, added, requested);
    const transferred = { type: "todo.v1.TodoItemTransferred", data: { listId: "l", itemId: "a", targetListId: "t", transferId: "l@3" } } as const;
    assert.deepEqual(decide.completeTodoItemTransfer({ listId: "l", itemId: "a", transferId: "l@3" }, moving, at(3)), [transferred]);
    assert.deepEqual(evolve(moving, transferred).items, []);
    rejects(() => decide.completeTodoItemTransfer({ listId: "l", itemId: "a", transferId: "l@9" }, moving, at(3)), status.FAILED_PRECONDITION, /no transfer l@9 under way/);
    rejects(() => decide.cancelTodoItemTransfer({ listId: "l", itemId: "a", transferId: "l@3", reason: "" }, given(created, added), at(2)), status.FAILED_PRECONDITION, /no transfer/);

    const [cancelled] = decide.cancelTodoItemTransfer({ listId: "l", itemId: "a", transferId: "l@3", reason: "todo list t does not exist" }, moving, at(3)) as TodoEvent[];
    assert.deepEqual(cancelled, { type: "todo.v1.TodoItemTransferCancelled", data: { listId: "l", itemId: "a", targetListId: "t", transferId: "l@3", reason: "todo list t does not exist" } });
    const back = evolve(moving, cancelled!);
    assert.deepEqual(back.items, [{ itemId: "a", completed: false, text: "Milk", transferId: "", transferTarget: "" }]);
    assert.equal((decide.requestTodoItemTransfer({ listId: "l", itemId: "a", targetListId: "u" }, back, at(4)) as TodoEvent[]).length, 1);
  });
});
