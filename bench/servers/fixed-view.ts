import type { GetTodoList, TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";

/** The query both sides of the hop benchmark serve: the same handler, so only the path differs. */
export function answerGetTodoList(request: GetTodoList): TodoListView {
  return {
    listId: request.listId,
    name: "Benchmark list",
    items: [
      { itemId: "a", text: "first item", completed: true, attachments: [] },
      { itemId: "b", text: "second item", completed: false, attachments: [] },
    ],
    itemCount: 2,
    completedCount: 1,
    version: "2",
    deleted: false,
    createdAt: new Date(1_700_000_000_000),
    updatedAt: new Date(1_700_000_000_000),
  };
}
