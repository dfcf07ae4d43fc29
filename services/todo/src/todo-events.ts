import type { DomainEvent } from "@recq-mesh/kit";
import {
  TodoItemAdded,
  TodoItemCompleted,
  TodoItemFileAttached,
  TodoItemRemoved,
  TodoItemTransferCancelled,
  TodoItemTransferred,
  TodoItemTransferRequested,
  TodoListCreated,
  TodoListDeleted,
  TodoListRenamed,
} from "../gen/todo/v1/events";

/** The TodoList events by full protobuf name: how the kit encodes, decodes and discriminates them. */
export const todoEvents = {
  "todo.v1.TodoListCreated": TodoListCreated,
  "todo.v1.TodoListRenamed": TodoListRenamed,
  "todo.v1.TodoItemAdded": TodoItemAdded,
  "todo.v1.TodoItemCompleted": TodoItemCompleted,
  "todo.v1.TodoItemRemoved": TodoItemRemoved,
  "todo.v1.TodoListDeleted": TodoListDeleted,
  "todo.v1.TodoItemFileAttached": TodoItemFileAttached,
  "todo.v1.TodoItemTransferRequested": TodoItemTransferRequested,
  "todo.v1.TodoItemTransferred": TodoItemTransferred,
  "todo.v1.TodoItemTransferCancelled": TodoItemTransferCancelled,
};

export type TodoEvent = DomainEvent<typeof todoEvents>;
