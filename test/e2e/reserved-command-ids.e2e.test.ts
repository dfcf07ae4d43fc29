import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshService } from "@recq-mesh/kit";
import { CreateTodoList, TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { call, closeHandlers, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { OpenChannel, packed } from "../support/reply-channel-client";

/** An id the `todo-notifier` observer derives for the event at position 7. */
const NOTIFIER_ID = "recq:observer:todo-notifier:7";

/**
 * The components' command ids (`recq:…`) are theirs alone: a caller sending one first would make the gateway answer
 * the component's command with the caller's recorded outcome, and the component's command would never run.
 */
describe("reserved command ids", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let component: MeshService;
  let clients: ReturnType<typeof todoClients>;
  let base: string;

  beforeAll(async () => {
    data = await tempDir("reserved-ids");
    mesh = await startGateway(data.dir, { http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 10_000 } });
    todo = await startTodo(mesh.address);
    component = new MeshService({ address: mesh.address, component: "todo-notifier" });
    await component.start();
    clients = todoClients(mesh.address);
    base = `http://127.0.0.1:${mesh.gateway.http!.port}`;
  });

  afterAll(async () => {
    clients.close();
    await closeHandlers(mesh.gateway, [component, todo.mesh]);
    await mesh.gateway.stop();
    await data.remove();
  });

  it("refuses them from a caller on the gRPC port, synchronous or accepted, with INVALID_ARGUMENT / INVALID_REQUEST", async () => {
    for (const mode of [{}, { "recq-mode": "async" }] as Record<string, string>[]) {
      const refused = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "stolen", name: "S" }, { "recq-command-id": NOTIFIER_ID, ...mode }));
      assert.equal(refused.code, status.INVALID_ARGUMENT);
      assert.match(refused.details, /starts with "recq:", which is reserved/);
      assert.equal(refused.metadata.get("recq-reason")[0], "INVALID_REQUEST");
    }
    assert.equal(mesh.gateway.acceptedCommands!.waiting, 0);
  });

  it("refuses them on the HTTP port and on a reply channel", async () => {
    const posted = await fetch(`${base}/todo.v1.TodoListCommandService/CreateTodoList`, {
      method: "POST",
      headers: { "content-type": "application/json", "recq-command-id": NOTIFIER_ID },
      body: JSON.stringify({ listId: "stolen", name: "S" }),
    });
    assert.equal(posted.status, 400);
    assert.equal(((await posted.json()) as { code: string }).code, "invalid_argument");

    const channel = new OpenChannel(mesh.address);
    try {
      const payload = packed("todo.v1.CreateTodoList", CreateTodoList, CreateTodoList.fromPartial({ listId: "stolen", name: "S" }));
      channel.send({ id: "r1", method: "todo.v1.TodoListCommandService/CreateTodoList", payload, metadata: { "recq-command-id": NOTIFIER_ID } });
      const answer = await channel.answerTo("r1");
      assert.equal(answer.result?.$case, "failure");
      assert.equal(answer.result.value.code, status.INVALID_ARGUMENT);
      assert.equal(answer.result.value.reason, "INVALID_REQUEST");
    } finally {
      channel.close();
    }
  });

  it("takes them from a component over its link, which then runs its own command (none of the refused ones ran)", async () => {
    const ack = await component.call(TodoListCommandServiceService.createTodoList, { listId: "notified", name: "N" }, { commandId: NOTIFIER_ID });
    assert.equal(ack.commandId, NOTIFIER_ID);
    assert.equal(ack.sequence, "1", "the component's own command ran, not a caller's recorded outcome");
    const stolen = await failure(call(clients.commands, clients.commands.renameTodoList, { listId: "stolen", name: "T" }));
    assert.equal(stolen.code, status.NOT_FOUND, "no refused command created its list");
  });
});
