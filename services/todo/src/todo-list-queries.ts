import { status } from "@grpc/grpc-js";
import { MeshError, type ProjectionRef, type QueryDefinition, type ViewFilter, type ViewStore } from "@recq-mesh/kit";
import { Completion, TodoListQueryServiceService, TodoListSort, type ListTodoLists, type TodoListPage } from "../gen/todo/v1/queries";
import { decodePageToken, encodePageToken } from "./page-token";
import { TODO_LISTS, toView, type TodoListDocument } from "./todo-list-view";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

type SortField = "createdAtMs" | "updatedAtMs" | "name";

const sortFields: Record<TodoListSort, SortField> = {
  [TodoListSort.TODO_LIST_SORT_UNSPECIFIED]: "createdAtMs",
  [TodoListSort.TODO_LIST_SORT_CREATED_AT]: "createdAtMs",
  [TodoListSort.TODO_LIST_SORT_UPDATED_AT]: "updatedAtMs",
  [TodoListSort.TODO_LIST_SORT_NAME]: "name",
  [TodoListSort.UNRECOGNIZED]: "createdAtMs",
};

/** Answers TodoList queries from the `todo_lists` view. */
export function todoListQueries(store: ViewStore, projection: ProjectionRef): QueryDefinition<typeof TodoListQueryServiceService> {
  return {
    service: TodoListQueryServiceService,
    projection,
    handlers: {
      getTodoList: async (request) => toView(await findLive(store, requireId(request.listId))),
      listTodoLists: (request) => listTodoLists(store, request),
      watchTodoList: async (request, context) => {
        const listId = requireId(request.listId);
        let lastVersion = -1;
        let finished: () => void = () => undefined;
        let failed: (error: unknown) => void = () => undefined;
        const done = new Promise<void>((resolve, reject) => {
          finished = resolve;
          failed = reject;
        });
        const emitLatest = async () => {
          const document = (await store.findById(TODO_LISTS, listId)) as TodoListDocument | undefined;
          if (document === undefined || document.version <= lastVersion) return;
          lastVersion = document.version;
          context.emit(toView(document));
          if (document.deleted) finished();
        };
        // Subscribe before the first read, so that no change between the two is missed.
        let chain = Promise.resolve();
        const unsubscribe = store.watch(
          TODO_LISTS,
          // A failed read ends the subscription with its error, rather than escaping as an unhandled rejection.
          () => void (chain = chain.then(emitLatest).catch(failed)),
          { id: listId },
        );
        context.signal.addEventListener("abort", () => finished(), { once: true });
        try {
          await findLive(store, listId);
          await emitLatest();
          await done;
        } finally {
          unsubscribe();
        }
      },
    },
  };
}

async function listTodoLists(store: ViewStore, request: ListTodoLists): Promise<TodoListPage> {
  const pageSize = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
  if (pageSize > MAX_PAGE_SIZE) throw new MeshError(status.INVALID_ARGUMENT, `page_size must be at most ${MAX_PAGE_SIZE}`);
  const field = sortFields[request.sort] ?? "createdAtMs";
  const direction: 1 | -1 = request.descending ? -1 : 1;
  const conditions: ViewFilter[] = [{ deleted: false }];
  if (request.nameContains !== "") conditions.push({ name: { $regex: escapeRegex(request.nameContains), $options: "i" } });
  if (request.completion === Completion.COMPLETION_COMPLETE) conditions.push({ complete: true });
  if (request.completion === Completion.COMPLETION_INCOMPLETE) conditions.push({ complete: false });
  if (request.pageToken !== "") {
    const cursor = decodePageToken(request.pageToken, field, request.descending);
    const beyond = request.descending ? "$lt" : "$gt";
    conditions.push({ $or: [{ [field]: { [beyond]: cursor.value } }, { [field]: cursor.value, _id: { [beyond]: cursor.id } }] });
  }
  const documents = (await store.find(TODO_LISTS, { $and: conditions }, { sort: { [field]: direction, _id: direction }, limit: pageSize + 1 })) as TodoListDocument[];
  const page = documents.slice(0, pageSize);
  const last = page[page.length - 1];
  const nextPageToken =
    documents.length > pageSize && last !== undefined
      ? encodePageToken({ sort: field, descending: request.descending, value: last[field], id: last._id })
      : "";
  return { lists: page.map(toView), nextPageToken };
}

async function findLive(store: ViewStore, listId: string): Promise<TodoListDocument> {
  const document = (await store.findById(TODO_LISTS, listId)) as TodoListDocument | undefined;
  if (document === undefined || document.deleted) throw new MeshError(status.NOT_FOUND, `todo list ${listId} does not exist`);
  return document;
}

function requireId(listId: string): string {
  if (listId === "") throw new MeshError(status.INVALID_ARGUMENT, "list_id is required");
  return listId;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
