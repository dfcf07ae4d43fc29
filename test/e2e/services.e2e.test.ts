import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials, status } from "@grpc/grpc-js";
import { MeshError, MeshService, type ServiceContext } from "@recq-mesh/kit";
import { ConsumeRequest, HandlerLinkServiceClient, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { notificationEvents } from "@recq-mesh/todo";
import { NotificationServiceClient, NotificationServiceService, type SendNotification } from "@recq-mesh/todo/gen/todo/v1/notifications";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { eventClient, eventsReceived, subscribeEvents } from "../support/event-subscriber";
import { getOutcome, outcomeClient } from "../support/outcome-client";
import { OutcomeState } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { EmbeddedEventStore, Gateway } from "@recq-mesh/gateway";
import { call, eventually, failure, startGateway, startTodo, tempDir, testCatalog, type RunningGateway, type RunningTodo } from "../support/mesh-harness";

const SERVICE_TYPE = "todo.v1.NotificationService";

/**
 * A Service through a real gateway: SendNotification has no routing key; the handler gets no history and answers
 * with service events, which the gateway stores under the service's aggregate type with the command id as aggregate
 * id, and publishes like any.
 */
describe("services: commands without a routing key that emit service events", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let running: RunningGateway;
  let service: MeshService;
  let todo: RunningTodo;
  let client: NotificationServiceClient;
  /** What the handler was given, by command id, each time it ran. */
  const handled: { command: SendNotification; context: Pick<ServiceContext, "commandId" | "aggregateId" | "sequence"> }[] = [];
  /** Subjects the handler fails with, and how: the handler's decisions under test. */
  const failWith = new Map<string, MeshError>();

  beforeAll(async () => {
    data = await tempDir("services");
    running = await startGateway(data.dir);
    todo = await startTodo(running.address, { roles: ["commands"] });
    service = new MeshService({ address: running.address, component: "notifications" });
    service.addService({
      service: NotificationServiceService,
      events: notificationEvents,
      handle: {
        async sendNotification(command, context) {
          handled.push({ command, context: { commandId: context.commandId, aggregateId: context.aggregateId, sequence: context.sequence } });
          const failure = failWith.get(command.subject);
          if (failure !== undefined) throw failure;
          if (command.subject === "create-list") {
            // A service may call the mesh: here, an aggregate's command, with an id derived from its own.
            await context.call(TodoListCommandServiceService.createTodoList, { listId: command.listId, name: command.text }, { commandId: `${context.commandId}:create` });
          }
          if (command.subject === "quiet") return [];
          const sent = { ...command, channel: "log" };
          return command.subject === "twice" ? [{ type: "todo.v1.NotificationSent", data: sent }, { type: "todo.v1.NotificationSent", data: { ...sent, text: "again" } }] : [{ type: "todo.v1.NotificationSent", data: sent }];
        },
      },
    });
    await service.start();
    client = new NotificationServiceClient(running.address, credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await service.drain();
    await todo.mesh.drain();
    await running.gateway.stop();
    await data.remove();
  });

  const send = (request: Partial<SendNotification>, commandId: string) =>
    call(client, client.sendNotification, { subject: "s", listId: "", itemId: "", text: "", ...request }, { "recq-command-id": commandId });
  const runsOf = (commandId: string) => handled.filter((h) => h.context.commandId === commandId);

  it("stores a service command's events as its own stream (service type, command id, sequence 1..n) and acknowledges them", async () => {
    const ack = await send({ subject: "twice", listId: "groceries", text: "hello" }, "notify-1");
    assert.equal(ack.commandId, "notify-1");
    assert.equal(ack.sequence, "2", "the ack's sequence is the number of service events");
    assert.deepEqual(runsOf("notify-1")[0]!.context, { commandId: "notify-1", aggregateId: "", sequence: 0 }, "a service gets no aggregate and no history");
    const stream = await running.store.readAggregate(SERVICE_TYPE, "notify-1");
    assert.deepEqual(
      stream.events.map((e) => [e.type, e.sequence, e.commandId, e.position]),
      [
        ["todo.v1.NotificationSent", 1, "notify-1", Number(ack.position) - 1],
        ["todo.v1.NotificationSent", 2, "notify-1", Number(ack.position)],
      ],
    );
  });

  it("records a service command that emits nothing as an outcome only, at the store's head", async () => {
    const head = await running.store.headPosition();
    const ack = await send({ subject: "quiet" }, "notify-quiet");
    assert.deepEqual([ack.position, ack.sequence], [String(head), "0"]);
    assert.equal(await running.store.headPosition(), head);
    assert.deepEqual((await running.store.readAggregate(SERVICE_TYPE, "notify-quiet")).events, []);
  });

  it("publishes service events to SubscribeEvents (filtered by the service's aggregate type and the command id) and to consumer streams", async () => {
    const ack = await send({ subject: "published", listId: "l", text: "to subscribers" }, "notify-published");
    const events = eventClient(running.address);
    const subscriber = subscribeEvents(events, { aggregateType: SERVICE_TYPE, aggregateId: "notify-published" });
    const link = new HandlerLinkServiceClient(running.address, credentials.createInsecure());
    const consumed: ConsumeResponse["events"] = [];
    const consumer = link.consume();
    consumer.on("data", (response: ConsumeResponse) => consumed.push(...response.events));
    consumer.on("error", () => undefined);
    consumer.write(
      ConsumeRequest.fromPartial({ open: { consumer: "service-events", eventTypes: ["todo.v1.NotificationSent"], afterPosition: "0", instanceId: "t" }, permits: 100 }),
    );
    try {
      await eventsReceived(subscriber, 1);
      const published = subscriber.events[0]!;
      assert.deepEqual([published.aggregateType, published.aggregateId, published.sequence, published.commandId, published.position], [SERVICE_TYPE, "notify-published", "1", "notify-published", ack.position]);
      assert.equal(published.payload?.typeUrl, "type.googleapis.com/todo.v1.NotificationSent");
      await eventually(async () => assert.ok(consumed.some((e) => e.commandId === "notify-published")));
      const event = consumed.find((e) => e.commandId === "notify-published")!;
      assert.deepEqual([event.aggregateType, event.aggregateId, event.position], [SERVICE_TYPE, "notify-published", ack.position]);
    } finally {
      subscriber.cancel();
      consumer.cancel();
      events.close();
      link.close();
    }
  });

  it("runs a service command repeated with the same id once: the repeat gets the first ack, no second event", async () => {
    const first = await send({ subject: "once", text: "one" }, "notify-once");
    const repeats = await Promise.all([send({ subject: "once", text: "one" }, "notify-once"), send({ subject: "once", text: "one" }, "notify-once")]);
    for (const repeat of repeats) assert.deepEqual(repeat, first);
    assert.equal(runsOf("notify-once").length, 1);
    assert.equal((await running.store.readAggregate(SERVICE_TYPE, "notify-once")).events.length, 1);
  });

  it("runs concurrent service commands without conflicts: each command's events are a stream of their own", async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `notify-concurrent-${i}`);
    const acks = await Promise.all(ids.map((id) => send({ subject: "concurrent" }, id)));
    assert.deepEqual(acks.map((a) => a.sequence), ids.map(() => "1"));
    assert.equal(new Set(acks.map((a) => a.position)).size, ids.length);
    for (const id of ids) assert.equal(runsOf(id).length, 1, `${id} ran once (no conflict, no redispatch)`);
  });

  it("records a service's decision (a domain rule) for the command id, and runs it again after a transient failure", async () => {
    failWith.set("refused", new MeshError(status.FAILED_PRECONDITION, "not today"));
    failWith.set("flaky", new MeshError(status.UNAVAILABLE, "the outside is down"));
    for (let attempt = 0; attempt < 2; attempt++) assert.equal((await failure(send({ subject: "refused" }, "notify-refused"))).code, status.FAILED_PRECONDITION);
    assert.equal(runsOf("notify-refused").length, 1, "a recorded failure answers the repeat");
    assert.equal((await failure(send({ subject: "flaky" }, "notify-flaky"))).code, status.UNAVAILABLE);
    failWith.delete("flaky");
    const ack = await send({ subject: "flaky" }, "notify-flaky");
    assert.equal(ack.sequence, "1");
    assert.equal(runsOf("notify-flaky").length, 2, "UNAVAILABLE is not recorded: the retry ran it");
    assert.equal((await running.store.readAggregate(SERVICE_TYPE, "notify-flaky")).events.length, 1);
  });

  it("accepts a service command (recq-mode: async), runs it later, and keeps its outcome with the ack of its service events", async () => {
    const outcomes = outcomeClient(running.address);
    try {
      const accepted = await call(client, client.sendNotification, { subject: "later", listId: "", itemId: "", text: "accepted" }, { "recq-command-id": "notify-accepted-async", "recq-mode": "async" });
      assert.equal(accepted.commandId, "notify-accepted-async");
      const outcome = await eventually(async () => {
        const current = await getOutcome(outcomes, "notify-accepted-async");
        assert.equal(current.state, OutcomeState.OUTCOME_STATE_SUCCEEDED);
        return current;
      });
      assert.equal(outcome.ack?.sequence, "1");
      const stream = await running.store.readAggregate(SERVICE_TYPE, "notify-accepted-async");
      assert.deepEqual(stream.events.map((e) => [e.sequence, String(e.position)]), [[1, outcome.ack?.position]]);
    } finally {
      outcomes.close();
    }
  });

  it("lets a service call the mesh through its link (context.call): an aggregate's command", async () => {
    await send({ subject: "create-list", listId: "from-a-service", text: "Made by a service" }, "notify-create");
    const list = await running.store.readAggregate("TodoList", "from-a-service");
    assert.deepEqual(list.events.map((e) => [e.type, e.commandId]), [["todo.v1.TodoListCreated", "notify-create:create"]]);
  });
});

describe("services: the same command id at the same time through two gateways on one store", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let first: RunningGateway;
  let second: Gateway;
  const services: MeshService[] = [];
  const clients: NotificationServiceClient[] = [];

  beforeAll(async () => {
    data = await tempDir("services-race");
    first = await startGateway(data.dir);
    second = await Gateway.start({ catalog: testCatalog(), store: first.store, address: "127.0.0.1:0", limits: { shutdownGraceMs: 500 } });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(services.map((s) => s.drain()));
    await second.stop();
    await first.gateway.stop();
    await data.remove();
  });

  it("stores the events once and answers both callers with the first outcome (the second append conflicts on the command's stream)", async () => {
    // Both dispatches are held until both have arrived, so both decide before either appends.
    let dispatched = 0;
    let releaseBoth: () => void = () => undefined;
    const bothArrived = new Promise<void>((resolve) => (releaseBoth = resolve));
    for (const address of [first.address, `127.0.0.1:${second.port}`]) {
      const mesh = new MeshService({ address, component: "notifications" });
      mesh.addService({
        service: NotificationServiceService,
        events: notificationEvents,
        handle: {
          async sendNotification(command) {
            dispatched += 1;
            if (dispatched >= 2) releaseBoth();
            await bothArrived;
            return [{ type: "todo.v1.NotificationSent", data: { ...command, channel: "log" } }];
          },
        },
      });
      await mesh.start();
      services.push(mesh);
      clients.push(new NotificationServiceClient(address, credentials.createInsecure()));
    }
    const request = { subject: "raced", listId: "", itemId: "", text: "" };
    const acks = await Promise.all(clients.map((client) => call(client, client.sendNotification, request, { "recq-command-id": "notify-raced" })));
    assert.deepEqual(acks[1], acks[0]);
    assert.equal(dispatched, 2, "the loser of the race is answered from the recorded outcome, not dispatched again");
    assert.equal((await first.store.readAggregate(SERVICE_TYPE, "notify-raced")).events.length, 1);
  });
});

describe("services: a command repeated after its outcome expired (RECQ_OUTCOME_RETENTION_MS)", () => {
  const RETENTION_MS = 300;
  let data: Awaited<ReturnType<typeof tempDir>>;
  let store: EmbeddedEventStore;
  let gateway: Gateway;
  let service: MeshService;
  let client: NotificationServiceClient;
  /** The command ids the handler ran, once per run: its side effect. */
  const runs: string[] = [];

  beforeAll(async () => {
    data = await tempDir("services-expired");
    store = await EmbeddedEventStore.open({ directory: data.dir, outcomeRetentionMs: RETENTION_MS });
    gateway = await Gateway.start({ catalog: testCatalog(), store, address: "127.0.0.1:0", limits: { shutdownGraceMs: 500 } });
    service = new MeshService({ address: `127.0.0.1:${gateway.port}`, component: "notifications" });
    service.addService({
      service: NotificationServiceService,
      events: notificationEvents,
      handle: {
        async sendNotification(command, context) {
          runs.push(context.commandId);
          return command.subject === "quiet" ? [] : [{ type: "todo.v1.NotificationSent", data: { ...command, channel: "webhook" } }];
        },
      },
    });
    await service.start();
    client = new NotificationServiceClient(`127.0.0.1:${gateway.port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await service.drain();
    await gateway.stop();
    await data.remove();
  });

  const send = (subject: string, commandId: string) => call(client, client.sendNotification, { subject, listId: "", itemId: "", text: "" }, { "recq-command-id": commandId });
  const outcomeExpired = (commandId: string) => eventually(async () => assert.equal(await store.findOutcome(commandId), undefined), 5 * RETENTION_MS + 2_000);

  it("answers a repeat from the command's stored events, without running the handler again", async () => {
    const first = await send("expiring", "notify-expiring");
    await outcomeExpired("notify-expiring");
    for (let repeat = 0; repeat < 3; repeat++) assert.deepEqual(await send("expiring", "notify-expiring"), first);
    assert.deepEqual(runs.filter((id) => id === "notify-expiring"), ["notify-expiring"], "the side effect ran once");
    assert.equal((await store.readAggregate(SERVICE_TYPE, "notify-expiring")).events.length, 1);
  });

  it("runs again a repeat of a command that stored no events (only its outcome, now expired, recorded it)", async () => {
    await send("quiet", "notify-quiet-expiring");
    await outcomeExpired("notify-quiet-expiring");
    await send("quiet", "notify-quiet-expiring");
    assert.deepEqual(runs.filter((id) => id === "notify-quiet-expiring"), ["notify-quiet-expiring", "notify-quiet-expiring"]);
  });
});
