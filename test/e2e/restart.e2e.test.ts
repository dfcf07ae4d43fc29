import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { call, closeHandlers, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";

describe("gateway restart", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let todo: RunningTodo;
  let mesh: RunningGateway;

  beforeAll(async () => {
    data = await tempDir("restart");
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data.remove();
  });

  it("keeps every acknowledged command, and handlers reconnect and resubscribe by themselves", async () => {
    mesh = await startGateway(data.dir);
    const port = mesh.gateway.port;
    todo = await startTodo(mesh.address);
    let clients = todoClients(mesh.address);
    await call(clients.commands, clients.commands.createTodoList, { listId: "kept", name: "Kept" });
    await call(clients.commands, clients.commands.addTodoItem, { listId: "kept", itemId: "a", text: "A" });
    clients.close();

    await mesh.gateway.stop();
    mesh = await startGateway(data.dir, { port });
    clients = todoClients(mesh.address);
    try {
      // The handler finds the new gateway on its own (backoff), and the aggregate's history is intact.
      const ack = await eventually(() => call(clients.commands, clients.commands.completeTodoItem, { listId: "kept", itemId: "a" }), 10_000);
      assert.equal(ack.sequence, "3");
      const view = await call(clients.queries, clients.queries.getTodoList, { listId: "kept" }, { "recq-consistency-token": ack.position });
      assert.equal(view.version, "3");
      assert.deepEqual(view.items, [{ itemId: "a", text: "A", completed: true, attachments: [] }]);
      assert.equal(mesh.gateway.handlerLinkCount, 1);
    } finally {
      clients.close();
    }
  });

  it("rebuilds a restarted service's views from the event stream", async () => {
    const clients = todoClients(mesh.address);
    try {
      const ack = await call(clients.commands, clients.commands.renameTodoList, { listId: "kept", name: "Kept again" });
      await closeHandlers(mesh.gateway, [todo.mesh]);
      todo = await startTodo(mesh.address);
      // A new instance has empty in-memory views: the token makes the query wait until they are rebuilt.
      const view = await call(clients.queries, clients.queries.getTodoList, { listId: "kept" }, { "recq-consistency-token": ack.position });
      assert.equal(view.name, "Kept again");
      assert.equal(view.version, "4");
    } finally {
      clients.close();
    }
  });
});
