import type { EventMeta, ProjectionDefinition, ViewStore, ViewWrite } from "@recq-mesh/kit";
import { todoEvents, type TodoEvent } from "./todo-events";
import { TODO_LISTS, type TodoListDocument } from "./todo-list-view";

/** The projection's name: its consumer name (with `@<instance>` when each instance keeps its own views). */
export const TODO_LIST_PROJECTION = "todo-lists";

/** Keeps the `todo_lists` view: one document per list, with its items and counts. */
export function todoListProjection(store: ViewStore, scope: "shared" | "instance"): ProjectionDefinition<typeof todoEvents> {
  return {
    name: TODO_LIST_PROJECTION,
    scope,
    store,
    events: todoEvents,
    setup: async (views) => {
      await views.ensureIndex(TODO_LISTS, { deleted: 1, createdAtMs: 1, _id: 1 });
      await views.ensureIndex(TODO_LISTS, { deleted: 1, updatedAtMs: 1, _id: 1 });
      await views.ensureIndex(TODO_LISTS, { deleted: 1, name: 1, _id: 1 });
    },
    apply: async (event, meta, views) => {
      const current = (await views.findById(TODO_LISTS, event.data.listId)) as TodoListDocument | undefined;
      const next = project(current, event, meta);
      return next === undefined ? [] : [{ kind: "put", collection: TODO_LISTS, document: next } satisfies ViewWrite];
    },
  };
}

/** The document after an event: a pure function, tested like `evolve`. */
export function project(current: TodoListDocument | undefined, event: TodoEvent, meta: EventMeta): TodoListDocument | undefined {
  // An event the document already reflects (a replay over a kept view) changes nothing.
  if (current !== undefined && meta.sequence <= current.version) return undefined;
  if (event.type === "todo.v1.TodoListCreated") {
    return withCounts({
      _id: event.data.listId,
      name: event.data.name,
      items: [],
      itemCount: 0,
      completedCount: 0,
      complete: false,
      version: meta.sequence,
      deleted: false,
      createdAtMs: meta.timeMs,
      updatedAtMs: meta.timeMs,
    });
  }
  if (current === undefined) return undefined;
  const touched = { ...current, version: meta.sequence, updatedAtMs: meta.timeMs };
  switch (event.type) {
    case "todo.v1.TodoListRenamed":
      return { ...touched, name: event.data.name };
    case "todo.v1.TodoItemAdded":
      return withCounts({ ...touched, items: [...current.items, { itemId: event.data.itemId, text: event.data.text, completed: false }] });
    case "todo.v1.TodoItemCompleted":
      return withCounts({ ...touched, items: current.items.map((i) => (i.itemId === event.data.itemId ? { ...i, completed: true } : i)) });
    case "todo.v1.TodoItemRemoved":
      return withCounts({ ...touched, items: current.items.filter((i) => i.itemId !== event.data.itemId) });
    case "todo.v1.TodoListDeleted":
      return { ...touched, deleted: true };
    case "todo.v1.TodoItemTransferred":
      return withCounts({ ...touched, items: current.items.filter((i) => i.itemId !== event.data.itemId) });
    case "todo.v1.TodoItemTransferRequested":
    case "todo.v1.TodoItemTransferCancelled":
      // The view shows where items are; a move under way is the saga's business until it completes.
      return touched;
    case "todo.v1.TodoItemFileAttached": {
      const { reference, fileName, contentType, sha256 } = event.data;
      const attachment = { reference, fileName, contentType, size: Number(event.data.size), sha256 };
      return {
        ...touched,
        items: current.items.map((i) => (i.itemId === event.data.itemId ? { ...i, attachments: [...(i.attachments ?? []), attachment] } : i)),
      };
    }
  }
}

function withCounts(document: TodoListDocument): TodoListDocument {
  const itemCount = document.items.length;
  const completedCount = document.items.filter((i) => i.completed).length;
  return { ...document, itemCount, completedCount, complete: itemCount > 0 && completedCount === itemCount };
}
