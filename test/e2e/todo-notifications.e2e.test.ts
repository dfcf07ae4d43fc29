import assert from "node:assert/strict";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { SpanKind } from "@opentelemetry/api";
import { FileCheckpointStore, MeshService, silentLogger } from "@recq-mesh/kit";
import { SpanName } from "@recq-mesh/protocol";
import { notificationService, todoNotifier, TODO_NOTIFIER } from "@recq-mesh/todo";
import type { StoredEvent } from "@recq-mesh/gateway/internal/store/event-store";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { memorySpans, parentOf } from "../support/tracing";
import { startWebhookServer, type WebhookServer } from "../support/webhook-server";

const NOTIFIED = new Set(["todo.v1.TodoItemCompleted", "todo.v1.TodoListDeleted"]);

/**
 * The TodoList's notifications through a real gateway: the todo-notifier Observer sends SendNotification to the
 * NotificationService (a Service) for each completed item and deleted list; the service POSTs to a local webhook and
 * emits NotificationSent.
 */
describe("TodoList notifications: the todo-notifier observer and the NotificationService", () => {
  const spans = memorySpans();
  let data: Awaited<ReturnType<typeof tempDir>>;
  let running: RunningGateway;
  let todo: RunningTodo;
  let clients: ReturnType<typeof todoClients>;
  let webhook: WebhookServer;
  let notifier: MeshService | undefined;

  /** The notification service and the observer in a process of their own, the observer's checkpoint in `folder`. */
  async function startNotifier(folder: string): Promise<MeshService> {
    const mesh = new MeshService({ address: running.address, component: "todo-notifications" });
    mesh.addService(notificationService({ webhookUrl: webhook.url, timeoutMs: 2_000, logger: silentLogger }));
    mesh.addObserver(todoNotifier(await FileCheckpointStore.open(path.join(data.dir, folder))));
    await mesh.start();
    return mesh;
  }

  const stored = async (): Promise<StoredEvent[]> => running.store.readAll(0, 100_000);
  const notifiedEvents = async () => (await stored()).filter((e) => NOTIFIED.has(e.type));
  const sent = async () => (await stored()).filter((e) => e.type === "todo.v1.NotificationSent");
  const keyOf = (event: StoredEvent) => `recq:observer:${TODO_NOTIFIER}:${event.position}`;
  const commands = () => clients.commands;

  beforeAll(async () => {
    data = await tempDir("notifications");
    webhook = await startWebhookServer();
    running = await startGateway(path.join(data.dir, "gateway"));
    todo = await startTodo(running.address, { roles: ["commands"] });
    clients = todoClients(running.address);
    notifier = await startNotifier("checkpoints");
  });

  afterAll(async () => {
    clients.close();
    await notifier?.drain();
    await todo.mesh.drain();
    await running.gateway.stop();
    await webhook.close();
    await data.remove();
  });

  it("posts once per completed item and deleted list, with the command id derived from the event, and stores NotificationSent", async () => {
    const c = commands();
    await call(c, c.createTodoList, { listId: "chores", name: "Chores" });
    await call(c, c.addTodoItem, { listId: "chores", itemId: "dishes", text: "Dishes" });
    await call(c, c.addTodoItem, { listId: "chores", itemId: "laundry", text: "Laundry" });
    await call(c, c.completeTodoItem, { listId: "chores", itemId: "dishes" });
    await call(c, c.completeTodoItem, { listId: "chores", itemId: "laundry" });
    await call(c, c.deleteTodoList, { listId: "chores" });
    const events = await notifiedEvents();
    assert.equal(events.length, 3);
    await eventually(async () => assert.equal(webhook.posts.length, 3));
    // Nothing more comes: once per event.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(
      webhook.posts.map((p) => [p.idempotencyKey, p.body.subject, p.body.listId, p.body.itemId]),
      [
        [keyOf(events[0]!), "todo.item_completed", "chores", "dishes"],
        [keyOf(events[1]!), "todo.item_completed", "chores", "laundry"],
        [keyOf(events[2]!), "todo.list_deleted", "chores", ""],
      ],
    );
    assert.equal(webhook.posts[0]!.body.notificationId, keyOf(events[0]!));
    await eventually(async () => assert.equal((await sent()).length, 3));
    assert.deepEqual(
      (await sent()).map((e) => [e.aggregateType, e.aggregateId, e.sequence]),
      events.map((e) => ["todo.v1.NotificationService", keyOf(e), 1]),
    );
  });

  it("traces the observer's handling as a consumer span of the command that caused the event, and its SendNotification under it", async () => {
    const c = commands();
    await call(c, c.createTodoList, { listId: "traced", name: "Traced" });
    await call(c, c.addTodoItem, { listId: "traced", itemId: "t", text: "T" });
    spans.reset();
    const traceId = "7a1f0c3e9b2d4c6a8e0f1a2b3c4d5e6f";
    const posts = webhook.posts.length;
    await call(c, c.completeTodoItem, { listId: "traced", itemId: "t" }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    await eventually(async () => assert.equal(webhook.posts.length, posts + 1));
    const trace = await eventually(async () => {
      const inTrace = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      assert.ok(inTrace.some((s) => s.name === "todo.v1.NotificationService/SendNotification" && s.kind === SpanKind.CLIENT));
      assert.ok(inTrace.some((s) => s.name === SpanName.OBSERVER_HANDLE));
      return inTrace;
    });
    const receive = trace.find((s) => s.name === "todo.v1.TodoListCommandService/CompleteTodoItem" && s.kind === SpanKind.SERVER && parentOf(s) === "00f067aa0ba902b7")!;
    const observed = trace.find((s) => s.name === SpanName.OBSERVER_HANDLE)!;
    assert.equal(observed.kind, SpanKind.CONSUMER);
    assert.equal(parentOf(observed), receive.spanContext().spanId, "the observer's span hangs off the command, through the stored event");
    assert.equal(observed.attributes["recq.consumer"], TODO_NOTIFIER);
    const sendSpans = trace.filter((s) => s.name === "todo.v1.NotificationService/SendNotification");
    const ids = new Set(sendSpans.map((s) => s.spanContext().spanId));
    const roots = sendSpans.filter((s) => !ids.has(parentOf(s) ?? ""));
    assert.deepEqual(roots.map((s) => parentOf(s)), [observed.spanContext().spanId], "the SendNotification it sent continues the observer's span");
  });

  it("does not post again what it checkpointed after the observer's process restarts, and posts what came meanwhile", async () => {
    await notifier!.drain();
    notifier = undefined;
    const checkpointed = await (await FileCheckpointStore.open(path.join(data.dir, "checkpoints"))).read(TODO_NOTIFIER);
    assert.equal(checkpointed, (await notifiedEvents()).at(-1)!.position, "the checkpoint is the last event handled");
    const before = webhook.posts.length;
    const c = commands();
    await call(c, c.createTodoList, { listId: "later", name: "Later" });
    await call(c, c.addTodoItem, { listId: "later", itemId: "x", text: "X" });
    await call(c, c.completeTodoItem, { listId: "later", itemId: "x" });
    spans.reset();
    notifier = await startNotifier("checkpoints");
    const completed = (await notifiedEvents()).at(-1)!;
    await eventually(async () => assert.equal(webhook.posts.length, before + 1));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(webhook.posts.slice(before).map((p) => p.idempotencyKey), [keyOf(completed)], "only the event after the checkpoint");
    const handled = spans.getFinishedSpans().filter((s) => s.name === SpanName.OBSERVER_HANDLE);
    assert.deepEqual(handled.map((s) => s.attributes["recq.position"]), [completed.position], "the events before the checkpoint are not handled again at all");
  });

  it("sends again with the same command ids when its checkpoint is lost, and the gateway runs each once: no post, no NotificationSent twice", async () => {
    await notifier!.drain();
    const posts = webhook.posts.length;
    const notifications = (await sent()).length;
    const last = (await notifiedEvents()).at(-1)!;
    // A new, empty checkpoint folder: the observer starts from the beginning of the stream.
    const fresh = await FileCheckpointStore.open(path.join(data.dir, "lost"));
    notifier = await startNotifier("lost");
    await eventually(async () => assert.ok((await fresh.read(TODO_NOTIFIER)) >= last.position), 10_000);
    assert.equal(webhook.posts.length, posts);
    assert.equal((await sent()).length, notifications);
  });

  it("retries a notification whose webhook fails, at least once, and stores one NotificationSent for it", async () => {
    webhook.failNext(2);
    const c = commands();
    await call(c, c.createTodoList, { listId: "flaky", name: "Flaky" });
    await call(c, c.addTodoItem, { listId: "flaky", itemId: "y", text: "Y" });
    await call(c, c.completeTodoItem, { listId: "flaky", itemId: "y" });
    const key = keyOf((await notifiedEvents()).at(-1)!);
    await eventually(async () => assert.equal(webhook.taken(key).length, 1), 10_000);
    assert.deepEqual(
      webhook.posts.filter((p) => p.idempotencyKey === key).map((p) => p.answered),
      [500, 500, 204],
    );
    await eventually(async () => assert.equal((await sent()).filter((e) => e.aggregateId === key).length, 1));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await sent()).filter((e) => e.aggregateId === key).length, 1);
    assert.equal(webhook.taken(key).length, 1);
  });
});
