import { status } from "@grpc/grpc-js";
import { MeshError, type AggregateDefinition } from "@recq-mesh/kit";
import { TodoAttachmentCommandServiceService, type AttachFile } from "../gen/todo/v1/attachments";
import { TodoListState } from "../gen/todo/v1/events";
import { todoEvents } from "./todo-events";
import { evolve, requireItem, requireLive } from "./todo-list-aggregate";

export const MAX_FILE_NAME_LENGTH = 255;
export const MAX_CONTENT_TYPE_LENGTH = 255;
/** Default of `TODO_MAX_ATTACHMENT_BYTES`. */
export const DEFAULT_MAX_ATTACHMENT_BYTES = 256 * 1024 * 1024;

/**
 * Attachments of TodoList items: the same aggregate as the list (aggregate type `TodoList`, the same events and
 * `evolve`), in a service of its own because its one command is an upload. The rules are checked on the first
 * message, before any content is stored; the content goes to the blob store as it streams in.
 */
export function todoAttachmentAggregate(options: { maxAttachmentBytes: number }): AggregateDefinition<typeof TodoAttachmentCommandServiceService, TodoListState, typeof todoEvents> {
  return {
    service: TodoAttachmentCommandServiceService,
    events: todoEvents,
    initialState: () => TodoListState.fromPartial({}),
    evolve,
    snapshot: { type: "todo.v1.TodoListState", codec: TodoListState, every: 100 },
    decide: {
      attachFile: async (first, rest, state, context) => {
        requireLive(state, first.listId);
        const item = requireItem(state, first.listId, first.itemId);
        const fileName = requiredText("file_name", first.fileName, MAX_FILE_NAME_LENGTH);
        const contentType = first.contentType.trim() || "application/octet-stream";
        if (contentType.length > MAX_CONTENT_TYPE_LENGTH) throw new MeshError(status.INVALID_ARGUMENT, `content_type is longer than ${MAX_CONTENT_TYPE_LENGTH} characters`);
        const stored = await context.blobs.write(contentOf(first, rest), { signal: context.signal, maxBytes: options.maxAttachmentBytes });
        return [
          {
            type: "todo.v1.TodoItemFileAttached",
            data: { listId: first.listId, itemId: item.itemId, reference: stored.reference, fileName, contentType, size: String(stored.size), sha256: stored.sha256 },
          },
        ];
      },
    },
  };
}

/** The file's bytes: the first message's content, then each later message's. */
async function* contentOf(first: AttachFile, rest: AsyncIterable<AttachFile>): AsyncIterable<Uint8Array> {
  if (first.content.length > 0) yield first.content;
  for await (const message of rest) if (message.content.length > 0) yield message.content;
}

function requiredText(field: string, value: string, maxLength: number): string {
  const trimmed = value.trim();
  if (trimmed === "") throw new MeshError(status.INVALID_ARGUMENT, `${field} is required`);
  if (trimmed.length > maxLength) throw new MeshError(status.INVALID_ARGUMENT, `${field} is longer than ${maxLength} characters`);
  return trimmed;
}
