import { status } from "@grpc/grpc-js";
import { MeshError, type AggregateDefinition } from "@recq-mesh/kit";
import { TodoListCommandServiceService } from "../gen/todo/v1/commands";
import { TodoListState, type TodoItemState } from "../gen/todo/v1/events";
import { todoEvents, type TodoEvent } from "./todo-events";

export const MAX_NAME_LENGTH = 200;
/** Characters of a list id or an item id. */
export const MAX_ID_LENGTH = 200;
export const MAX_TEXT_LENGTH = 1_000;
export const MAX_ITEMS_PER_LIST = 1_000;

/** The TodoList aggregate: `evolve` folds its events into state, `decide` answers each command with events. */
export const todoListAggregate: AggregateDefinition<typeof TodoListCommandServiceService, TodoListState, typeof todoEvents> = {
  service: TodoListCommandServiceService,
  events: todoEvents,
  initialState: () => TodoListState.fromPartial({}),
  evolve,
  snapshot: { type: "todo.v1.TodoListState", codec: TodoListState, every: 100 },
  // evolve returns new states and decide only reads them, so folded states may be reused. Bounded by the bytes
  // the states were folded from as well as by count: 8 MiB of events (ids and item texts) make a few tens of MiB
  // of state, whether as 10,000 short lists or as a few hundred full ones.
  stateCache: { maxAggregates: 10_000, maxBytes: 8 * 1024 * 1024 },
  decide: {
    createTodoList: (command, state) => {
      checkId("list_id", command.listId);
      if (state.listId !== "") throw new MeshError(status.ALREADY_EXISTS, `todo list ${command.listId} already exists`);
      const name = requiredText("name", command.name, MAX_NAME_LENGTH);
      return [{ type: "todo.v1.TodoListCreated", data: { listId: command.listId, name } }];
    },
    renameTodoList: (command, state) => {
      requireLive(state, command.listId);
      const name = requiredText("name", command.name, MAX_NAME_LENGTH);
      return name === state.name ? [] : [{ type: "todo.v1.TodoListRenamed", data: { listId: command.listId, name } }];
    },
    addTodoItem: (command, state) => {
      requireLive(state, command.listId);
      const itemId = requiredId("item_id", command.itemId);
      const text = requiredText("text", command.text, MAX_TEXT_LENGTH);
      if (state.items.some((i) => i.itemId === itemId)) {
        throw new MeshError(status.ALREADY_EXISTS, `todo list ${command.listId} already has an item ${itemId}`);
      }
      if (state.items.length >= MAX_ITEMS_PER_LIST) {
        throw new MeshError(status.FAILED_PRECONDITION, `todo list ${command.listId} already holds the most items a list may hold (${MAX_ITEMS_PER_LIST})`);
      }
      return [{ type: "todo.v1.TodoItemAdded", data: { listId: command.listId, itemId, text } }];
    },
    completeTodoItem: (command, state) => {
      requireLive(state, command.listId);
      const item = requireItem(state, command.listId, command.itemId);
      return item.completed ? [] : [{ type: "todo.v1.TodoItemCompleted", data: { listId: command.listId, itemId: item.itemId } }];
    },
    removeTodoItem: (command, state) => {
      requireLive(state, command.listId);
      const item = requireItem(state, command.listId, command.itemId);
      requireNoTransfer(command.listId, item);
      return [{ type: "todo.v1.TodoItemRemoved", data: { listId: command.listId, itemId: item.itemId } }];
    },
    deleteTodoList: (command, state) => {
      requireLive(state, command.listId);
      return [{ type: "todo.v1.TodoListDeleted", data: { listId: command.listId } }];
    },
    requestTodoItemTransfer: (command, state, context) => {
      requireLive(state, command.listId);
      const item = requireItem(state, command.listId, command.itemId);
      const target = requiredId("target_list_id", command.targetListId);
      if (target === command.listId) throw new MeshError(status.INVALID_ARGUMENT, "target_list_id must name another list than list_id");
      requireNoTransfer(command.listId, item);
      // Unique per transfer without a caller's choice: the list and the sequence the event will have.
      const transferId = `${command.listId}@${context.sequence + 1}`;
      const data = { listId: command.listId, itemId: item.itemId, targetListId: target, text: item.text, transferId };
      return [{ type: "todo.v1.TodoItemTransferRequested", data }];
    },
    completeTodoItemTransfer: (command, state) => {
      const item = requireTransfer(state, command.listId, command.itemId, command.transferId);
      const data = { listId: command.listId, itemId: item.itemId, targetListId: item.transferTarget, transferId: command.transferId };
      return [{ type: "todo.v1.TodoItemTransferred", data }];
    },
    cancelTodoItemTransfer: (command, state) => {
      const item = requireTransfer(state, command.listId, command.itemId, command.transferId);
      const reason = command.reason.slice(0, MAX_TEXT_LENGTH);
      const data = { listId: command.listId, itemId: item.itemId, targetListId: item.transferTarget, transferId: command.transferId, reason };
      return [{ type: "todo.v1.TodoItemTransferCancelled", data }];
    },
  },
};

export function evolve(state: TodoListState, event: TodoEvent): TodoListState {
  switch (event.type) {
    case "todo.v1.TodoListCreated":
      return { listId: event.data.listId, name: event.data.name, deleted: false, items: [] };
    case "todo.v1.TodoListRenamed":
      return { ...state, name: event.data.name };
    case "todo.v1.TodoItemAdded":
      return { ...state, items: [...state.items, { itemId: event.data.itemId, completed: false, text: event.data.text, transferId: "", transferTarget: "" }] };
    case "todo.v1.TodoItemCompleted":
      return { ...state, items: state.items.map((i) => (i.itemId === event.data.itemId ? { ...i, completed: true } : i)) };
    case "todo.v1.TodoItemRemoved":
      return { ...state, items: state.items.filter((i) => i.itemId !== event.data.itemId) };
    case "todo.v1.TodoListDeleted":
      return { ...state, deleted: true };
    case "todo.v1.TodoItemTransferRequested": {
      const { itemId, transferId, targetListId } = event.data;
      return { ...state, items: state.items.map((i) => (i.itemId === itemId ? { ...i, transferId, transferTarget: targetListId } : i)) };
    }
    case "todo.v1.TodoItemTransferred":
      return { ...state, items: state.items.filter((i) => i.itemId !== event.data.itemId) };
    case "todo.v1.TodoItemTransferCancelled":
      return { ...state, items: state.items.map((i) => (i.itemId === event.data.itemId ? { ...i, transferId: "", transferTarget: "" } : i)) };
    case "todo.v1.TodoItemFileAttached":
      // The state decides nothing about attachments: the content and its description live in the event and the view.
      return state;
  }
}

export function requireLive(state: TodoListState, listId: string): void {
  if (state.listId === "") throw new MeshError(status.NOT_FOUND, `todo list ${listId} does not exist`);
  if (state.deleted) throw new MeshError(status.FAILED_PRECONDITION, `todo list ${listId} is deleted`);
}

export function requireItem(state: TodoListState, listId: string, itemId: string) {
  requiredId("item_id", itemId);
  const item = state.items.find((i) => i.itemId === itemId);
  if (item === undefined) throw new MeshError(status.NOT_FOUND, `todo list ${listId} has no item ${itemId}`);
  return item;
}

function requireNoTransfer(listId: string, item: TodoItemState): void {
  if (item.transferId !== "") throw new MeshError(status.FAILED_PRECONDITION, `item ${item.itemId} of todo list ${listId} is being moved (transfer ${item.transferId})`);
}

/** The item of a transfer under way: the saga's commands name it exactly, or are refused. */
function requireTransfer(state: TodoListState, listId: string, itemId: string, transferId: string): TodoItemState {
  if (state.listId === "") throw new MeshError(status.NOT_FOUND, `todo list ${listId} does not exist`);
  const item = requireItem(state, listId, itemId);
  if (transferId === "" || item.transferId !== transferId) {
    throw new MeshError(status.FAILED_PRECONDITION, `item ${itemId} of todo list ${listId} has no transfer ${transferId} under way`);
  }
  return item;
}

/**
 * Ids are the caller's, echoed in messages and kept in views: at most MAX_ID_LENGTH characters. Not trimmed: a
 * list id is the routing key the gateway already routed by, and must stay the same value.
 */
function checkId(field: string, value: string): void {
  if (value.length > MAX_ID_LENGTH) throw new MeshError(status.INVALID_ARGUMENT, `${field} is longer than ${MAX_ID_LENGTH} characters`);
}

/** An item id: the caller's, kept as it was sent (not trimmed, like a list id), and required on every command. */
function requiredId(field: string, value: string): string {
  if (value === "") throw new MeshError(status.INVALID_ARGUMENT, `${field} is required`);
  checkId(field, value);
  return value;
}

function requiredText(field: string, value: string, maxLength: number): string {
  const trimmed = value.trim();
  if (trimmed === "") throw new MeshError(status.INVALID_ARGUMENT, `${field} is required`);
  if (trimmed.length > maxLength) throw new MeshError(status.INVALID_ARGUMENT, `${field} is longer than ${maxLength} characters`);
  return trimmed;
}
