import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { Invoker, MeshService, timeOrderedId } from "@recq-mesh/kit";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoListQueryServiceService, type TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { closeHandlers, eventually, startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";

/**
 * Save-notify: a watcher (WatchTodoList over an Invoker's gateway client) is told of each save another client's
 * commands make (an Invoker over a service's link), in order.
 */
describe("real-time updates to watchers", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let writer: MeshService;
  let watcher: Invoker;

  beforeAll(async () => {
    data = await tempDir("save-notify");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    writer = new MeshService({ address: mesh.address, component: "writer" });
    await writer.start();
    watcher = Invoker.forGateway({ address: mesh.address });
  });

  afterAll(async () => {
    watcher.close();
    await closeHandlers(mesh.gateway, [writer, todo.mesh]);
    await mesh.gateway.stop();
    await data.remove();
  });

  /** Watches a list in the background: every view it receives, until `stop`. */
  function watch(listId: string, consistencyToken: string) {
    const stop = new AbortController();
    const views: TodoListView[] = [];
    const ended = (async () => {
      for await (const view of watcher.service(TodoListQueryServiceService).watchTodoList({ listId }, { consistencyToken, signal: stop.signal })) views.push(view);
    })();
    return { views, stop: () => (stop.abort(), ended) };
  }

  it("sends the watcher each save, one after the other, in order", async () => {
    const commands = Invoker.overLink(writer).service(TodoListCommandServiceService);
    const listId = timeOrderedId();
    const created = await commands.createTodoList({ listId, name: "Week" });
    const watching = watch(listId, created.position);
    try {
      await eventually(async () => assert.equal(watching.views.length, 1));
      const saves = [
        () => commands.addTodoItem({ listId, itemId: "a", text: "Laundry" }),
        () => commands.addTodoItem({ listId, itemId: "b", text: "Dishes" }),
        () => commands.completeTodoItem({ listId, itemId: "a" }),
        () => commands.removeTodoItem({ listId, itemId: "b" }),
        () => commands.renameTodoList({ listId, name: "This week" }),
      ];
      for (const [index, save] of saves.entries()) {
        await save();
        // Each save reaches the watcher before the next is made: one view per save.
        await eventually(async () => assert.equal(watching.views.length, index + 2));
      }
      assert.deepEqual(
        watching.views.map((view) => [view.name, view.items.map((item) => `${item.completed ? "x" : " "} ${item.text}`)]),
        [
          ["Week", []],
          ["Week", ["  Laundry"]],
          ["Week", ["  Laundry", "  Dishes"]],
          ["Week", ["x Laundry", "  Dishes"]],
          ["Week", ["x Laundry"]],
          ["This week", ["x Laundry"]],
        ],
      );
    } finally {
      await watching.stop();
    }
  });

  it("keeps the order when saves come faster than the watcher reads: versions only grow, the last view is the last save", async () => {
    const commands = Invoker.overLink(writer).service(TodoListCommandServiceService);
    const listId = timeOrderedId();
    const created = await commands.createTodoList({ listId, name: "Burst" });
    const watching = watch(listId, created.position);
    try {
      await eventually(async () => assert.equal(watching.views.length, 1));
      for (let index = 0; index < 20; index++) await commands.addTodoItem({ listId, itemId: `item-${index}`, text: `Item ${index}` });
      await eventually(async () => assert.equal(watching.views.at(-1)?.itemCount, 20));
      const versions = watching.views.map((view) => Number(view.version));
      assert.deepEqual(versions, [...versions].sort((a, b) => a - b), "in order");
      assert.equal(new Set(versions).size, versions.length, "each view once");
      assert.deepEqual(watching.views.at(-1)?.items.map((item) => item.itemId), Array.from({ length: 20 }, (_, index) => `item-${index}`));
    } finally {
      await watching.stop();
    }
  });
});
