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

  const startTodoProcess = (extraEnv: Record<string, string> = {}) =>
    startProcess(process.execPath, [TODO_MAIN], {
      cwd: data.dir,
      env: {
        ...process.env,
        MONGODB_URI: "",
        RECQ_GATEWAY: running.address,
        TODO_NOTIFICATION_WEBHOOK_URL: webhook.url,
        TODO_CHECKPOINT_DIR: checkpointDir(),
        RECQ_LOG_LEVEL: "info",
        ...extraEnv,
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

  it("with its checkpoint coalesced, redelivers what it handled since the last write after a crash, posts nothing twice, and writes the last position at a clean stop", async () => {
    await todo?.stop();
    const checkpoints = await FileCheckpointStore.open(checkpointDir());
    const stoppedAt = await checkpoints.read(TODO_NOTIFIER);
    const posted = webhook.posts.length;
    // A window the run never reaches: nothing is written before the kill.
    const coalesced = { TODO_CHECKPOINT_INTERVAL_MS: "60000", TODO_CHECKPOINT_MAX_EVENTS: "1000" };
    todo = await startTodoProcess(coalesced);
    const c = clients.commands;
    for (const itemId of ["c", "d", "e"]) {
      await call(c, c.addTodoItem, { listId: "home", itemId, text: itemId.toUpperCase() });
      await call(c, c.completeTodoItem, { listId: "home", itemId });
    }
    await eventually(async () => assert.equal(webhook.posts.length, posted + 3), 10_000);
    assert.equal(await (await FileCheckpointStore.open(checkpointDir())).read(TODO_NOTIFIER), stoppedAt, "the handled events wait for the write");

    process.kill(-todo.child.pid!, "SIGKILL");
    await todo.exited;
    await eventually(async () => assert.equal(running.gateway.handlerLinkCount, 0), 10_000);
    todo = await startTodoProcess(coalesced);
    await call(c, c.addTodoItem, { listId: "home", itemId: "f", text: "F" });
    await call(c, c.completeTodoItem, { listId: "home", itemId: "f" });
    const completed = await completedPositions();
    // c, d and e came again before f: once f is posted, their redelivery is done.
    await eventually(async () => assert.equal(webhook.posts.length, posted + 4), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const keys = completed.slice(-4).map((position) => `recq:observer:${TODO_NOTIFIER}:${position}`);
    assert.deepEqual(webhook.posts.slice(posted).map((p) => p.idempotencyKey), keys);
    const sent = (await running.store.readAll(0, 10_000)).filter((e) => e.type === "todo.v1.NotificationSent").map((e) => e.aggregateId);
    assert.deepEqual(sent.slice(-4), keys);
    assert.equal(new Set(sent).size, sent.length, "each notification sent once");

    await todo.stop();
    todo = undefined;
    assert.equal(await (await FileCheckpointStore.open(checkpointDir())).read(TODO_NOTIFIER), completed.at(-1), "a clean stop writes the last position");
  });
});
