import type { TodoListView } from "../../gen/todo/v1/queries";

/** A list as the CLI prints it: its name and progress, then one line per item. */
export function renderTodoList(view: TodoListView): string[] {
  if (view.deleted) return [`${view.name} (deleted)`];
  return [`${view.name} (${progress(view)})`, ...view.items.map((item) => `  [${item.completed ? "x" : " "}] ${item.text}`)];
}

/** One line of `lists`: id, name, progress. */
export function renderListLine(view: TodoListView): string {
  return `${view.listId}  ${view.name} (${progress(view)})`;
}

function progress(view: TodoListView): string {
  return `${view.completedCount} of ${view.itemCount} done`;
}
