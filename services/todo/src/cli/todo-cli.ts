import { timeOrderedId, type Invoker } from "@recq-mesh/kit";
import { TodoListCommandServiceService } from "../../gen/todo/v1/commands";
import { ListTodoLists, TodoListQueryServiceService } from "../../gen/todo/v1/queries";
import { findItem, findList } from "./list-lookup";
import { renderListLine, renderTodoList } from "./render-todo-list";
import type { TodoCliCommand } from "./todo-cli-arguments";

/** Where the CLI prints, and what ends a `watch`. */
export interface TodoCliIo {
  print(line: string): void;
  /** Aborted on Ctrl-C: a `watch` then ends. */
  signal: AbortSignal;
}

/**
 * Runs one CLI command with the Invoker. Commands answer only success or failure, so the CLI names what it creates:
 * each list and item gets a new time-ordered id (UUIDv7), and each command an id of its own.
 */
export async function runTodoCli(command: TodoCliCommand, invoker: Invoker, io: TodoCliIo): Promise<void> {
  const commands = invoker.service(TodoListCommandServiceService);
  switch (command.name) {
    case "create": {
      const listId = command.listId ?? timeOrderedId();
      await shownByViews(invoker, await commands.createTodoList({ listId, name: command.listName }, { commandId: timeOrderedId() }));
      io.print(`created list "${command.listName}" with id ${listId}`);
      return;
    }
    case "add": {
      const list = await findList(invoker, command.list);
      const itemId = timeOrderedId();
      await shownByViews(invoker, await commands.addTodoItem({ listId: list.listId, itemId, text: command.text }, { commandId: timeOrderedId() }));
      io.print(`added "${command.text}" to "${list.name}" with id ${itemId}`);
      return;
    }
    case "done": {
      const list = await findList(invoker, command.list);
      const item = findItem(list, command.item);
      await shownByViews(invoker, await commands.completeTodoItem({ listId: list.listId, itemId: item.itemId }, { commandId: timeOrderedId() }));
      io.print(`completed "${item.text}" in "${list.name}"`);
      return;
    }
    case "show":
      for (const line of renderTodoList(await findList(invoker, command.list))) io.print(line);
      return;
    case "lists": {
      const page = await invoker.service(TodoListQueryServiceService).listTodoLists(ListTodoLists.fromPartial({}));
      for (const list of page.lists) io.print(renderListLine(list));
      return;
    }
    case "watch": {
      const list = await findList(invoker, command.list);
      // Each view as it is saved: the first is the list as it is now.
      for await (const view of invoker.service(TodoListQueryServiceService).watchTodoList({ listId: list.listId }, { signal: io.signal })) {
        for (const line of renderTodoList(view)) io.print(line);
      }
      return;
    }
  }
}

/**
 * Waits until the views show a command's write: a query with the ack's position as its consistency token. Each run
 * of the CLI is a process of its own, and the next one (`show`, `watch`, a list or an item named by its name) reads
 * the views without this one's position; returning only once they show it gives read-your-writes from run to run.
 */
async function shownByViews(invoker: Invoker, ack: { position: string }): Promise<void> {
  await invoker.service(TodoListQueryServiceService).listTodoLists(ListTodoLists.fromPartial({ pageSize: 1 }), { consistencyToken: ack.position });
}
