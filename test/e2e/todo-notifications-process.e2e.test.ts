import assert from "node:assert/strict";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { FileCheckpointStore } from "@recq-mesh/kit";
import { TODO_NOTIFIER } from "@recq-mesh/todo";
import { startProcess, type BackgroundProcess } from "../support/background-process";
import { TODO_MAIN } from "../support/built-packages";
import { call, eventually, startGateway, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";
import { startWebhookServer, type WebhookServer } from "../support/webhook-server";

/**
 * The TodoList service process (services/todo/main.ts, what `npm start` runs) hosts the NotificationService and the
 * todo-notifier observer: configured by TODO_NOTIFICATION_WEBHOOK_URL, its checkpoint in TODO_CHECKPOINT_DIR. A crash
 * (SIGKILL) and a restart send nothing twice.
 */
describe("TodoList notifications from the TodoList service process", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let running: RunningGateway;
  let webhook: WebhookServer;
  let clients: ReturnType<typeof todoClients>;
  let todo: BackgroundProcess | undefined;
  const checkpointDir = () => path.join(data.dir, "checkpoints");

  const startTodoProcess = () =>
    startProcess(process.execPath, [TODO_MAIN], {
      cwd: data.dir,
      env: {
        ...process.env,
        MONGODB_URI: "",
        RECQ_GATEWAY: running.address,
        TODO_NOTIFICATION_WEBHOOK_URL: webhook.url,
        TODO_CHECKPOINT_DIR: checkpointDir(),
        RECQ_LOG_LEVEL: "info",
      },
      ready: /todo service linked/,
      timeoutMs: 30_000,
    });

  const completedPositions = async () => (await running.store.readAll(0, 10_000)).filter((e) => e.type === "todo.v1.TodoItemCompleted").map((e) => e.position);

  beforeAll(async () => {
    data = await tempDir("notifications-process");
    webhook = await startWebhookServer();
    running = await startGateway(path.join(data.dir, "gateway"));
    clients = todoClients(running.address);
  });

  afterAll(async () => {
    clients.close();
    await todo?.stop();
    await running.gateway.stop();
    await webhook.close();
    await data.remove();
  });

  it("posts each completed item once across a crash and a restart of the process", async () => {
    todo = await startTodoProcess();
    const c = clients.commands;
    await call(c, c.createTodoList, { listId: "home", name: "Home" });
    await call(c, c.addTodoItem, { listId: "home", itemId: "a", text: "A" });
    await call(c, c.addTodoItem, { listId: "home", itemId: "b", text: "B" });
    await call(c, c.completeTodoItem, { listId: "home", itemId: "a" });
    const [first] = await completedPositions();
    await eventually(async () => assert.equal(webhook.posts.length, 1), 10_000);
    assert.equal(webhook.posts[0]!.idempotencyKey, `recq:observer:${TODO_NOTIFIER}:${first}`);
    const checkpoints = await FileCheckpointStore.open(checkpointDir());
    await eventually(async () => assert.equal(await checkpoints.read(TODO_NOTIFIER), first));

    // A crash: no drain.
    process.kill(-todo.child.pid!, "SIGKILL");
    await todo.exited;
    await eventually(async () => assert.equal(running.gateway.handlerLinkCount, 0), 10_000);
    todo = await startTodoProcess();
    await call(c, c.completeTodoItem, { listId: "home", itemId: "b" });
    const [, second] = await completedPositions();
    await eventually(async () => assert.equal(webhook.posts.length, 2), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(
      webhook.posts.map((p) => [p.idempotencyKey, p.body.itemId]),
      [
        [`recq:observer:${TODO_NOTIFIER}:${first}`, "a"],
        [`recq:observer:${TODO_NOTIFIER}:${second}`, "b"],
      ],
    );
    const sent = (await running.store.readAll(0, 10_000)).filter((e) => e.type === "todo.v1.NotificationSent");
    assert.deepEqual(sent.map((e) => e.aggregateId), [`recq:observer:${TODO_NOTIFIER}:${first}`, `recq:observer:${TODO_NOTIFIER}:${second}`]);
  });
});
