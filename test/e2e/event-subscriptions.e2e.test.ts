import assert from "node:assert/strict";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status, type ServiceError } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import { EmbeddedEventStore, Gateway, type EventStore } from "@recq-mesh/gateway";
import { SubscribeEventsRequest } from "@recq-mesh/protocol/gen/recq/v1/event_service";
import { TodoItemAdded, TodoListCreated } from "@recq-mesh/todo/gen/todo/v1/events";
import { eventClient, eventsReceived, subscribeEvents, type EventSubscriber } from "../support/event-subscriber";
import { call, eventually, failure, startGateway, startTodo, tempDir, testCatalog, todoClients, type RunningGateway } from "../support/mesh-harness";
import { framed, within } from "../support/raw-grpc";
import { memorySpans } from "../support/tracing";

const reasonOf = (error: ServiceError) => error.metadata.get("recq-reason")[0];

/** A W3C traceparent whose trace id names the command, so an event can be traced back to it. */
const traceparentOf = (n: number) => `00-${n.toString(16).padStart(32, "0")}-00f067aa0ba902b7-01`;

/** A gateway, the real TodoList service linked to it, and clients; each `describe` has its own. */
async function startMesh(prefix: string, options: Parameters<typeof startGateway>[1] = {}) {
  const data = await tempDir(prefix);
  const mesh = await startGateway(data.dir, options);
  const todo = await startTodo(mesh.address);
  const clients = todoClients(mesh.address);
  const events = eventClient(mesh.address);
  return {
    mesh,
    todo,
    clients,
    events,
    async stop() {
      events.close();
      clients.close();
      todo.mesh.close();
      await mesh.gateway.stop();
      await data.remove();
    },
  };
}

describe("events for clients: a subscription through the gateway", () => {
  let mesh: RunningGateway;
  let env: Awaited<ReturnType<typeof startMesh>>;

  beforeAll(async () => {
    // Trace context travels only with a propagator registered, as the gateway's process registers one.
    memorySpans();
    env = await startMesh("events");
    ({ mesh } = env);
  });

  afterAll(async () => {
    await env.stop();
  });

  it("resumed from the last position seen, while commands keep coming, sees every event once, in order, as its command made it", async () => {
    const { clients, events } = env;
    /** The ack of every command, by the position of its one event. */
    const acks = new Map<number, { commandId: string; traceparent: string; listId: string }>();
    let done = false;
    const write = async (worker: number) => {
      for (let i = 0; i < 40; i++) {
        const n = worker * 1000 + i;
        const listId = `resume-${worker}`;
        const commandId = `resume-command-${n}`;
        const traceparent = traceparentOf(n + 1);
        const headers = { "recq-command-id": commandId, traceparent };
        const ack =
          i === 0
            ? await call(clients.commands, clients.commands.createTodoList, { listId, name: `List ${worker}` }, headers)
            : await call(clients.commands, clients.commands.addTodoItem, { listId, itemId: `item-${i}`, text: `Item ${i}` }, headers);
        acks.set(Number(ack.position), { commandId, traceparent, listId });
      }
    };
    const writers = Promise.all([1, 2, 3].map(write)).finally(() => (done = true));

    // Four subscriptions in a row, each cancelled once it has taken a few events, the next resuming from the last
    // position its predecessor saw; the last one runs until the writers are done and it has reached the head.
    const received: number[] = [];
    const seen: EventSubscriber[] = [];
    let after = 0;
    const writingAtReconnect: boolean[] = [];
    for (let round = 0; round < 4; round++) {
      const subscriber = subscribeEvents(events, { afterPosition: String(after) });
      seen.push(subscriber);
      await eventsReceived(subscriber, 10 + round * 3);
      subscriber.cancel();
      writingAtReconnect.push(!done);
      after = subscriber.lastSeen;
    }
    assert.ok(writingAtReconnect[0], "the first reconnect came while commands were still coming");
    const last = subscribeEvents(events, { afterPosition: String(after) });
    seen.push(last);
    await writers;
    const head = await mesh.store.headPosition();
    await eventually(async () => assert.ok(last.lastSeen >= head, `the last subscription reached ${last.lastSeen} of ${head}`), 10_000);
    last.cancel();

    for (const subscriber of seen) received.push(...subscriber.events.map((event) => Number(event.position)));
    assert.deepEqual(received, Array.from({ length: head }, (_, i) => i + 1), "every position once, in order, across the reconnects");
    assert.equal(acks.size, head, "one event per command");
    for (const event of seen.flatMap((subscriber) => subscriber.events)) {
      const ack = acks.get(Number(event.position))!;
      assert.equal(event.commandId, ack.commandId, `the command of event ${event.position}`);
      assert.equal(event.metadata.traceparent?.slice(0, 35), ack.traceparent.slice(0, 35), `event ${event.position} carries its command's trace id`);
      assert.equal(event.aggregateType, "TodoList");
      assert.equal(event.aggregateId, ack.listId);
      assert.ok(event.time instanceof Date && Math.abs(event.time.getTime() - Date.now()) < 60_000, "the time it was stored");
    }
    // The payload is an Any: the type's URL, and the stored bytes, which decode as that type.
    const created = seen[0]!.events.find((event) => event.payload?.typeUrl === "type.googleapis.com/todo.v1.TodoListCreated");
    assert.ok(created, "a TodoListCreated came");
    assert.equal(TodoListCreated.decode(created.payload!.value).name.startsWith("List "), true);
    const added = seen[0]!.events.find((event) => event.payload?.typeUrl === "type.googleapis.com/todo.v1.TodoItemAdded");
    assert.match(TodoItemAdded.decode(added!.payload!.value).text, /^Item \d+$/);
    const [stored] = await mesh.store.readAll(Number(added!.position) - 1, 1);
    assert.ok(Buffer.from(added!.payload!.value).equals(stored!.payload), "the payload is the stored bytes");
  }, 60_000);

  it("filters by event type, by aggregate type, and by aggregate", async () => {
    const { clients, events } = env;
    await call(clients.commands, clients.commands.createTodoList, { listId: "filtered", name: "Filtered" });
    await call(clients.commands, clients.commands.addTodoItem, { listId: "filtered", itemId: "a", text: "A" });
    await call(clients.commands, clients.commands.completeTodoItem, { listId: "filtered", itemId: "a" });
    await call(clients.commands, clients.commands.createTodoList, { listId: "other", name: "Other" });
    await call(clients.commands, clients.commands.addTodoItem, { listId: "other", itemId: "b", text: "B" });
    const all = await mesh.store.readAll(0, 100_000);
    const positionsOf = (wanted: (event: (typeof all)[number]) => boolean) => all.filter(wanted).map((event) => event.position);

    const cases: { request: Partial<SubscribeEventsRequest>; expected: number[] }[] = [
      { request: { eventTypes: ["todo.v1.TodoItemAdded", "todo.v1.TodoItemCompleted"] }, expected: positionsOf((e) => e.type === "todo.v1.TodoItemAdded" || e.type === "todo.v1.TodoItemCompleted") },
      { request: { aggregateType: "TodoList" }, expected: positionsOf(() => true) },
      { request: { aggregateType: "TodoList", aggregateId: "filtered" }, expected: positionsOf((e) => e.aggregateId === "filtered") },
      { request: { aggregateType: "TodoList", aggregateId: "filtered", eventTypes: ["todo.v1.TodoItemAdded"] }, expected: positionsOf((e) => e.aggregateId === "filtered" && e.type === "todo.v1.TodoItemAdded") },
    ];
    assert.deepEqual(cases[2]!.expected.length, 3);
    for (const { request, expected } of cases) {
      const subscriber = subscribeEvents(events, request);
      await eventually(async () => assert.ok(subscriber.caughtUp, "caught up"));
      subscriber.cancel();
      assert.deepEqual(subscriber.events.map((event) => Number(event.position)), expected, JSON.stringify(request));
    }

    // Live events pass the same filter.
    const live = subscribeEvents(events, { aggregateType: "TodoList", aggregateId: "other", afterPosition: String(all.at(-1)!.position) });
    await eventually(async () => assert.ok(live.caughtUp));
    await call(clients.commands, clients.commands.addTodoItem, { listId: "filtered", itemId: "c", text: "C" });
    const ack = await call(clients.commands, clients.commands.renameTodoList, { listId: "other", name: "Renamed" });
    await eventsReceived(live, 1);
    assert.deepEqual(live.events.map((event) => Number(event.position)), [Number(ack.position)]);
    live.cancel();
  });

  it("refuses a filter it cannot serve with INVALID_ARGUMENT, and a position past the store's head with OUT_OF_RANGE", async () => {
    const cases: { request: Partial<SubscribeEventsRequest>; code: status; message: RegExp }[] = [
      { request: { aggregateId: "filtered" }, code: status.INVALID_ARGUMENT, message: /aggregate_id requires aggregate_type/ },
      { request: { eventTypes: ["TodoItemAdded"] }, code: status.INVALID_ARGUMENT, message: /"TodoItemAdded" is no message of the gateway's descriptor sets/ },
      { request: { aggregateType: "Todo" }, code: status.INVALID_ARGUMENT, message: /"Todo" is no aggregate type of the gateway's command services \(TodoList, todo\.v1\.NotificationService\)/ },
      { request: { afterPosition: "1000000" }, code: status.OUT_OF_RANGE, message: /after_position 1000000 is past the last stored event/ },
    ];
    for (const { request, code, message } of cases) {
      const error = await within(subscribeEvents(env.events, request).ended, 5_000, JSON.stringify(request));
      assert.equal(error.code, code, JSON.stringify(request));
      assert.match(error.details, message);
      assert.equal(reasonOf(error), "INVALID_REQUEST");
    }
    assert.equal(mesh.gateway.eventSubscriptionCount, 0, "a refused subscription holds no slot");
  });

  it("traces each subscription as a server span named after the method, ended with its status", async () => {
    const spans = memorySpans();
    spans.reset();
    const followed = subscribeEvents(env.events, { aggregateType: "TodoList" });
    await eventually(async () => assert.ok(followed.caughtUp));
    followed.cancel();
    await within(subscribeEvents(env.events, { aggregateId: "x" }).ended, 5_000, "a refused subscription");
    const ended = () => spans.getFinishedSpans().filter((span) => span.name === "recq.v1.EventService/SubscribeEvents");
    await eventually(async () => assert.equal(ended().length, 2));
    for (const span of ended()) {
      assert.equal(span.kind, SpanKind.SERVER);
      assert.equal(span.attributes["rpc.service"], "recq.v1.EventService");
    }
    assert.deepEqual(ended().map((span) => span.attributes["rpc.grpc.status_code"]).sort(), [status.CANCELLED, status.INVALID_ARGUMENT]);
  });
});

describe("events for clients: progress", () => {
  let env: Awaited<ReturnType<typeof startMesh>>;

  beforeAll(async () => {
    // A read batch of 4: a progress message after every 4 events the filter leaves out.
    env = await startMesh("event-progress", { limits: { eventReadBatch: 4 } });
  });

  afterAll(async () => {
    await env.stop();
  });

  it("tells how far it read after each batch's worth of events left out, and once it has caught up; a resume from there repeats nothing", async () => {
    const { clients, events } = env;
    await call(clients.commands, clients.commands.createTodoList, { listId: "p", name: "P" });
    for (let i = 1; i <= 9; i++) await call(clients.commands, clients.commands.addTodoItem, { listId: "p", itemId: `i${i}`, text: `I${i}` });
    await call(clients.commands, clients.commands.completeTodoItem, { listId: "p", itemId: "i1" }); // position 11

    const completed = { eventTypes: ["todo.v1.TodoItemCompleted"] };
    const first = subscribeEvents(events, completed);
    await eventually(async () => assert.ok(first.caughtUp));
    assert.deepEqual(first.positions, [
      { kind: "progress", position: 4 },
      { kind: "progress", position: 8 },
      { kind: "event", position: 11 },
      { kind: "progress", position: 11 },
    ]);
    assert.deepEqual(first.progress.map((p) => p.caughtUp), [false, false, true], "only the last is caught_up");

    // Live: four more events left out make one progress message, at the fourth.
    for (let i = 10; i <= 13; i++) await call(clients.commands, clients.commands.addTodoItem, { listId: "p", itemId: `i${i}`, text: `I${i}` });
    await eventually(async () => assert.equal(first.lastSeen, 15));
    assert.deepEqual(first.positions.at(-1), { kind: "progress", position: 15 });
    first.cancel();

    // Resumed from the last progress: nothing again, then the next event that matches.
    const resumed = subscribeEvents(events, { ...completed, afterPosition: String(first.lastSeen) });
    await eventually(async () => assert.ok(resumed.caughtUp));
    assert.deepEqual(resumed.positions, [{ kind: "progress", position: 15 }]);
    await call(clients.commands, clients.commands.completeTodoItem, { listId: "p", itemId: "i2" });
    await eventsReceived(resumed, 1);
    assert.deepEqual(resumed.events.map((event) => event.position), ["16"]);
    resumed.cancel();
  });
});

/**
 * An embedded store that counts the events read by event subscriptions (reads of `batch` events: the projectors'
 * consumer streams read 500 at a time) after a position below `countBelow`.
 */
function countingStore(store: EmbeddedEventStore, batch: number, countBelow: number): { store: EventStore; read: () => number } {
  let read = 0;
  const counting: EventStore = {
    append: (request) => store.append(request),
    readAggregate: (type, id) => store.readAggregate(type, id),
    readAll: async (after, limit) => {
      const events = await store.readAll(after, limit);
      if (limit === batch && after < countBelow) read += events.length;
      return events;
    },
    headPosition: () => store.headPosition(),
    onAppended: (listener) => store.onAppended(listener),
    findOutcome: (commandId) => store.findOutcome(commandId),
    recordFailure: (failed) => store.recordFailure(failed),
    close: () => store.close(),
  };
  return { store: counting, read: () => read };
}

describe("events for clients: a caller that does not read", () => {
  it("is ended with RESOURCE_EXHAUSTED after RECQ_MAX_UNREAD_MS, its reads stopped at what its stream holds, while the gateway serves others", async () => {
    const data = await tempDir("event-slow");
    const embedded = await EmbeddedEventStore.open({ directory: data.dir });
    const STORED = 400;
    const { store, read } = countingStore(embedded, 10, STORED);
    const gateway = await Gateway.start({ catalog: testCatalog(), store, address: "127.0.0.1:0", limits: { shutdownGraceMs: 500, maxUnreadMs: 3_000, eventReadBatch: 10 } });
    const address = `127.0.0.1:${gateway.port}`;
    const todo = await startTodo(address);
    const clients = todoClients(address);
    const events = eventClient(address);
    let session: http2.ClientHttp2Session | undefined;
    try {
      // 400 events of about 1 KB: far more than HTTP/2 flow control lets a stream hold (64 KiB).
      const text = "x".repeat(900);
      const fill = async (list: number) => {
        await call(clients.commands, clients.commands.createTodoList, { listId: `slow-${list}`, name: "Slow" });
        for (let i = 1; i < STORED / 4; i++) await call(clients.commands, clients.commands.addTodoItem, { listId: `slow-${list}`, itemId: `i${i}`, text });
      };
      await Promise.all([0, 1, 2, 3].map(fill));
      assert.equal(await store.headPosition(), STORED);

      // A subscriber that reads, following the live events.
      const live = subscribeEvents(events, { afterPosition: String(STORED) });
      await eventually(async () => assert.ok(live.caughtUp));

      // A caller that never reads: a bare HTTP/2 stream, paused, so flow control stops the gateway's writes.
      session = http2.connect(`http://${address}`);
      const stream = session.request({ ":method": "POST", ":path": "/recq.v1.EventService/SubscribeEvents", "content-type": "application/grpc", te: "trailers" });
      const request = SubscribeEventsRequest.encode(SubscribeEventsRequest.fromPartial({})).finish();
      stream.end(framed(request.length, request));
      stream.pause();
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on("trailers", resolve));
      await eventually(async () => assert.equal(gateway.eventSubscriptionCount, 2));

      // Meanwhile another subscriber gets the live events, and commands go on.
      const ack = await call(clients.commands, clients.commands.renameTodoList, { listId: "slow-0", name: "Still served" });
      await eventsReceived(live, 1);
      assert.equal(live.events[0]!.position, ack.position);
      assert.equal(gateway.eventSubscriptionCount, 2, "the caller that does not read is still held, within RECQ_MAX_UNREAD_MS");

      // The gateway gives up on the caller that reads nothing; the status waits behind the data it holds.
      await eventually(async () => assert.equal(gateway.eventSubscriptionCount, 1, "only the live subscriber is left"), 10_000);
      const readForSlow = read();
      assert.ok(readForSlow < STORED / 2, `the store was read no further than the stream took: ${readForSlow} of ${STORED} events`);
      stream.on("data", () => undefined);
      stream.resume();
      const ended = await within(trailers, 10_000, "the slow caller's status");
      assert.equal(Number(ended["grpc-status"]), status.RESOURCE_EXHAUSTED);
      assert.equal(ended["recq-reason"], "QUEUE_FULL");
      assert.match(decodeURIComponent(String(ended["grpc-message"])), /has taken no event for 3000 ms \(RECQ_MAX_UNREAD_MS\)/);
      live.cancel();
    } finally {
      session?.destroy();
      events.close();
      clients.close();
      todo.mesh.close();
      await gateway.stop();
      await data.remove();
    }
  }, 90_000);
});

describe("events for clients: limits", () => {
  let env: Awaited<ReturnType<typeof startMesh>>;

  beforeAll(async () => {
    env = await startMesh("event-limits", { limits: { maxEventSubscriptions: 2, maxEventFilterTypes: 2, maxSubscriptions: 1 } });
  });

  afterAll(async () => {
    await env.stop();
  });

  it("holds RECQ_MAX_EVENT_SUBSCRIPTIONS subscriptions at once, refuses one more with RESOURCE_EXHAUSTED / OVERLOADED, and takes one again when one ends", async () => {
    const { events, mesh } = env;
    const first = subscribeEvents(events);
    const second = subscribeEvents(events);
    await eventually(async () => assert.ok(first.caughtUp && second.caughtUp, "both at the limit are served"));
    const third = await within(subscribeEvents(events).ended, 5_000, "the subscription past the limit");
    assert.equal(third.code, status.RESOURCE_EXHAUSTED);
    assert.equal(reasonOf(third), "OVERLOADED");
    assert.match(third.details, /holds 2 event subscriptions, its limit \(RECQ_MAX_EVENT_SUBSCRIPTIONS\)/);
    assert.ok(Number(third.metadata.get("grpc-retry-pushback-ms")[0]) > 0, "a retry hint");

    // Counted apart from the domain subscriptions: RECQ_MAX_SUBSCRIPTIONS is 1 here, and one still fits.
    const watch = env.clients.queries.watchTodoList({ listId: "none" });
    watch.on("error", () => undefined);
    const watchRefused = new Promise<ServiceError | undefined>((resolve) => {
      watch.on("error", resolve);
      setTimeout(() => resolve(undefined), 500).unref();
    });
    assert.equal((await watchRefused)?.code === status.RESOURCE_EXHAUSTED, false, "a domain subscription is not refused for the event subscriptions");
    watch.cancel();

    first.cancel();
    await eventually(async () => assert.equal(mesh.gateway.eventSubscriptionCount, 1));
    const again = subscribeEvents(events);
    await eventually(async () => assert.ok(again.caughtUp, "a slot freed is taken again"));
    second.cancel();
    again.cancel();
  });

  it("takes RECQ_MAX_EVENT_FILTER_TYPES event types in a filter, and refuses one more with INVALID_ARGUMENT", async () => {
    const two = subscribeEvents(env.events, { eventTypes: ["todo.v1.TodoListCreated", "todo.v1.TodoItemAdded"] });
    await eventually(async () => assert.ok(two.caughtUp));
    two.cancel();
    const three = await within(subscribeEvents(env.events, { eventTypes: ["todo.v1.TodoListCreated", "todo.v1.TodoItemAdded", "todo.v1.TodoItemCompleted"] }).ended, 5_000, "three types");
    assert.equal(three.code, status.INVALID_ARGUMENT);
    assert.equal(reasonOf(three), "INVALID_REQUEST");
    assert.match(three.details, /lists 3 event types; a subscription may list at most 2 \(RECQ_MAX_EVENT_FILTER_TYPES\)/);
  });
});

describe("events for clients: who may subscribe", () => {
  const CALLER = "caller-secret";
  const EVENTS = "events-secret";

  it("is closed, naming RECQ_EVENTS_TOKEN, when only a caller token is set: the caller token does not open it", async () => {
    const env = await startMesh("event-closed", { clientToken: CALLER });
    try {
      for (const token of [CALLER, undefined, EVENTS]) {
        const error = await within(subscribeEvents(env.events, {}, token).ended, 5_000, `token ${token}`);
        assert.equal(error.code, status.PERMISSION_DENIED, `token ${token}`);
        assert.match(error.details, /set RECQ_EVENTS_TOKEN to grant them/);
      }
      const ack = await call(env.clients.commands, env.clients.commands.createTodoList, { listId: "c", name: "C" }, { authorization: `Bearer ${CALLER}` });
      assert.equal(ack.position, "1", "the caller token still opens calls");
    } finally {
      await env.stop();
    }
  });

  it("takes the events token and only it for events; the events token does not open domain calls", async () => {
    const env = await startMesh("event-token", { clientToken: CALLER, eventsToken: EVENTS });
    try {
      const ack = await call(env.clients.commands, env.clients.commands.createTodoList, { listId: "t", name: "T" }, { authorization: `Bearer ${CALLER}` });
      const allowed = subscribeEvents(env.events, {}, EVENTS);
      await eventsReceived(allowed, 1);
      assert.equal(allowed.events[0]!.commandId, ack.commandId);
      allowed.cancel();

      const withCallerToken = await within(subscribeEvents(env.events, {}, CALLER).ended, 5_000, "the caller token on events");
      assert.equal(withCallerToken.code, status.PERMISSION_DENIED);
      assert.match(withCallerToken.details, /event subscriptions take the events token \(RECQ_EVENTS_TOKEN\)/);
      const without = await within(subscribeEvents(env.events).ended, 5_000, "no token on events");
      assert.equal(without.code, status.UNAUTHENTICATED);

      const rename = (token: string) => call(env.clients.commands, env.clients.commands.renameTodoList, { listId: "t", name: "U" }, { authorization: `Bearer ${token}` });
      const refused = await failure(rename(EVENTS));
      assert.equal(refused.code, status.PERMISSION_DENIED, "the events token does not open a command");
      assert.equal((await rename(CALLER)).sequence, "2");
    } finally {
      await env.stop();
    }
  });

  it("is open when neither token is set", async () => {
    const env = await startMesh("event-open");
    try {
      const open = subscribeEvents(env.events);
      await eventually(async () => assert.ok(open.caughtUp));
      open.cancel();
    } finally {
      await env.stop();
    }
  });
});

describe("events for clients: shutdown", () => {
  it("ends every subscription with UNAVAILABLE / SHUTTING_DOWN, and stops", async () => {
    const env = await startMesh("event-shutdown", { limits: { shutdownGraceMs: 30_000 } });
    const subscribers = [subscribeEvents(env.events), subscribeEvents(env.events, { eventTypes: ["todo.v1.TodoItemAdded"] })];
    await eventually(async () => assert.ok(subscribers.every((subscriber) => subscriber.caughtUp)));
    // Within the grace period: the subscriptions must be ended by the gateway, not cut by its forced shutdown.
    await within(env.stop(), 15_000, "the gateway's stop");
    for (const subscriber of subscribers) {
      const ended = await within(subscriber.ended, 5_000, "the subscription's end");
      assert.equal(ended.code, status.UNAVAILABLE);
      assert.equal(reasonOf(ended), "SHUTTING_DOWN");
    }
  });
});
