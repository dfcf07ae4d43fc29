import { status } from "@grpc/grpc-js";
import { MeshError, type BlobStore, type ProjectionRef, type QueryDefinition, type ViewStore } from "@recq-mesh/kit";
import { TodoAttachmentQueryServiceService } from "../gen/todo/v1/attachments";
import { TODO_LISTS, type TodoListDocument } from "./todo-list-view";

/** Default of `TODO_DOWNLOAD_CHUNK_BYTES`. */
export const DEFAULT_DOWNLOAD_CHUNK_BYTES = 256 * 1024;

/**
 * Downloads of attachments: the view says which attachments an item has (so only a reference the list holds is
 * read), the blob store has the content, sent in chunks with `write`, which waits for the gateway's grant — a
 * download goes at its caller's pace, and neither this service nor the gateway holds the whole file.
 */
export function todoAttachmentQueries(
  store: ViewStore,
  blobs: BlobStore,
  projection: ProjectionRef,
  options: { downloadChunkBytes: number },
): QueryDefinition<typeof TodoAttachmentQueryServiceService> {
  return {
    service: TodoAttachmentQueryServiceService,
    projection,
    handlers: {
      downloadAttachment: async (request, context) => {
        if (request.listId === "" || request.itemId === "" || request.reference === "") {
          throw new MeshError(status.INVALID_ARGUMENT, "list_id, item_id and reference are required");
        }
        const list = (await store.findById(TODO_LISTS, request.listId)) as TodoListDocument | undefined;
        const item = list?.deleted === false ? list.items.find((i) => i.itemId === request.itemId) : undefined;
        if (item?.attachments?.some((a) => a.reference === request.reference) !== true) {
          throw new MeshError(status.NOT_FOUND, `item ${request.itemId} of todo list ${request.listId} has no attachment ${request.reference}`);
        }
        for await (const content of blobs.read(request.reference, { chunkBytes: options.downloadChunkBytes, signal: context.signal })) {
          await context.write({ content });
        }
      },
    },
  };
}
