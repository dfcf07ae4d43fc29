import type { ViewDocument } from "@recq-mesh/kit";
import type { TodoListView } from "../gen/todo/v1/queries";

export const TODO_LISTS = "todo_lists";

/** A TodoList as stored in the view store: the TodoListView plus what queries filter and sort on. */
export interface TodoListDocument extends ViewDocument {
  _id: string;
  name: string;
  /** `attachments` is absent on items stored before attachments existed. */
  items: { itemId: string; text: string; completed: boolean; attachments?: AttachmentDocument[] }[];
  itemCount: number;
  completedCount: number;
  /** True when the list has items and all of them are completed. */
  complete: boolean;
  version: number;
  deleted: boolean;
  createdAtMs: number;
  updatedAtMs: number;
}

/** An item's attachment: the TodoItemFileAttached event's description of the content, not the content. */
export interface AttachmentDocument {
  reference: string;
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
}

export function toView(document: TodoListDocument): TodoListView {
  return {
    listId: document._id,
    name: document.name,
    items: document.items.map((i) => ({
      itemId: i.itemId,
      text: i.text,
      completed: i.completed,
      attachments: (i.attachments ?? []).map((a) => ({ ...a, size: String(a.size) })),
    })),
    itemCount: document.itemCount,
    completedCount: document.completedCount,
    version: String(document.version),
    deleted: document.deleted,
    createdAt: new Date(document.createdAtMs),
    updatedAt: new Date(document.updatedAtMs),
  };
}
