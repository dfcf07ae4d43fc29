import { status } from "@grpc/grpc-js";
import { MeshError, type Invoker } from "@recq-mesh/kit";
import { ListTodoLists, TodoListQueryServiceService, type TodoItemView, type TodoListView } from "../../gen/todo/v1/queries";
import { MAX_PAGE_SIZE } from "../todo-list-queries";

/**
 * The list a person names on the command line: the list with that id, else the one list with that name. Names are
 * not unique: two lists of one name are refused, with their ids to choose from.
 */
export async function findList(invoker: Invoker, named: string): Promise<TodoListView> {
  const queries = invoker.service(TodoListQueryServiceService);
  try {
    return await queries.getTodoList({ listId: named });
  } catch (error) {
    // An id the aggregate would refuse (a name with spaces) is INVALID_ARGUMENT; an unknown one NOT_FOUND.
    if (!(error instanceof MeshError) || (error.code !== status.NOT_FOUND && error.code !== status.INVALID_ARGUMENT)) throw error;
  }
  const page = await queries.listTodoLists(ListTodoLists.fromPartial({ nameContains: named, pageSize: MAX_PAGE_SIZE }));
  const matches = page.lists.filter((list) => list.name === named);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new MeshError(status.NOT_FOUND, `no todo list has the id or the name "${named}"`);
  throw new MeshError(status.FAILED_PRECONDITION, `${matches.length} lists are named "${named}": name one by its id (${matches.map((list) => list.listId).join(", ")})`);
}

/** The item of a list named by its id, else by its text. */
export function findItem(list: TodoListView, named: string): TodoItemView {
  const item = list.items.find((candidate) => candidate.itemId === named) ?? list.items.find((candidate) => candidate.text === named);
  if (item === undefined) throw new MeshError(status.NOT_FOUND, `"${list.name}" has no item with the id or the text "${named}"`);
  return item;
}
