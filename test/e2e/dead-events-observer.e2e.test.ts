import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { FileCheckpointStore, MeshError, MeshService, Reason } from "@recq-mesh/kit";
import { HealthClient, HealthCheckResponse_ServingStatus as Serving } from "@recq-mesh/gateway/gen/grpc/health/v1/health";
import { todoEvents } from "@recq-mesh/todo";
import type { DeadEventServiceClient } from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { deadEventClient } from "../support/dead-event-audit";

const OBSERVER = "poison-observer";

/**
 * An observer's events go through the same dead-event queue as a projection's: one it cannot handle is parked
 * with its aggregate's later events, the other aggregates' events reach it, and a retry handles the parked ones
 * in order, once each (the observer's checkpoint had passed them; a retry does not move it).
 */
describe("dead-event queue of an observer", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let observer: MeshService;
  let clients: ReturnType<typeof todoClients>;
  let admin: DeadEventServiceClient;
  let health: HealthClient;
  const state = { broken: true, outages: 0, overloads: 0 };
  /** Item ids the observer handled, per list, in order. */
  const handled = new Map<string, string[]>();

  beforeAll(async () => {
    data = await tempDir("dead-events-observer");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address, { roles: ["commands"] });
    observer = new MeshService({ address: mesh.address, component: "observer" });
    observer.addObserver(
      {
        name: OBSERVER,
        events: todoEvents,
        checkpoints: await FileCheckpointStore.open(`${data.dir}/observer-checkpoints`),
        handle: (event) => {
          if (event.type !== "todo.v1.TodoItemAdded") return;
          if (event.data.text === "outage" && state.outages > 0) {
            state.outages -= 1;
            throw new MeshError(status.UNAVAILABLE, "the mesh is out of reach", Reason.HANDLER_LOST);
          }
          // What a call through the link gets from a saturated gateway (its admission).
          if (event.data.text === "overload" && state.overloads > 0) {
            state.overloads -= 1;
            throw new MeshError(status.RESOURCE_EXHAUSTED, "overloaded: the gateway has 10 calls in flight, at its limit of 10 now; retry later", Reason.OVERLOADED);
          }
          if (state.broken && event.data.text === "poison") throw new Error(`cannot notify about the poison item of ${event.data.listId}`);
          handled.set(event.data.listId, [...(handled.get(event.data.listId) ?? []), event.data.itemId]);
        },
      },
      { deadEvents: { attempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 } },
    );
    await observer.start();
    clients = todoClients(mesh.address);
    admin = deadEventClient(mesh.address);
    health = new HealthClient(mesh.address, credentials.createInsecure());
  });

  afterAll(async () => {
    clients.close();
    admin.close();
    health.close();
    await observer?.drain();
    await todo?.mesh.drain();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  const add = (listId: string, itemId: string, text = itemId) => call(clients.commands, clients.commands.addTodoItem, { listId, itemId, text });
  /** The observer's health: SERVING while active with nothing parked. */
  const healthOf = () =>
    new Promise<Serving>((resolve, reject) => health.check({ service: `recq.consumer/${OBSERVER}` }, (error, response) => (error ? reject(error) : resolve(response.status))));
  const parked = async () => (await call(admin, admin.listParkedEvents, { consumer: OBSERVER, afterPosition: "0", pageSize: 0 })).events;

  it("parks the poison event and its list's later events, goes on with other lists, and handles the parked ones once on retry", async () => {
    assert.equal(await healthOf(), Serving.SERVING);
    for (const listId of ["calm", "troubled"]) await call(clients.commands, clients.commands.createTodoList, { listId, name: listId });
    await add("troubled", "p", "poison");
    await add("troubled", "after");
    await add("calm", "c1");

    await eventually(async () => assert.deepEqual(handled.get("calm"), ["c1"]), 10_000);
    await eventually(async () => assert.deepEqual((await parked()).map((event) => event.aggregateId), ["troubled", "troubled"]), 10_000);
    assert.equal(handled.get("troubled"), undefined, "nothing of the troubled list was handled");
    assert.equal(await healthOf(), Serving.NOT_SERVING, "a consumer with parked events is not healthy");

    state.broken = false;
    const retried = await call(admin, admin.retryParked, { consumer: OBSERVER, aggregateType: "TodoList", aggregateId: "troubled" });
    assert.equal(retried.scheduled, 2);
    await eventually(async () => assert.deepEqual(handled.get("troubled"), ["p", "after"]), 10_000);
    await eventually(async () => assert.deepEqual(await parked(), []));
    assert.equal(await healthOf(), Serving.SERVING, "healthy again once nothing is parked");
    // The list is unblocked: its next event is handled as usual, and nothing was handled twice.
    await add("troubled", "later");
    await eventually(async () => assert.deepEqual(handled.get("troubled"), ["p", "after", "later"]), 10_000);
    assert.deepEqual(handled.get("calm"), ["c1"]);
  });

  it("does not park an event whose handling fails only because the mesh is out of reach (UNAVAILABLE): it tries until it gets through", async () => {
    state.broken = false;
    state.outages = 6; // three times the tries before parking
    await call(clients.commands, clients.commands.createTodoList, { listId: "outage", name: "outage" });
    await add("outage", "o", "outage");
    await eventually(async () => assert.deepEqual(handled.get("outage"), ["o"]), 10_000);
    assert.equal(state.outages, 0);
    assert.deepEqual(await parked(), [], "nothing parked");
  });

  it("does not park an event whose handling fails only because the gateway is overloaded (RESOURCE_EXHAUSTED, OVERLOADED): it tries until it gets through", async () => {
    state.broken = false;
    state.overloads = 6; // three times the tries before parking
    await call(clients.commands, clients.commands.createTodoList, { listId: "overload", name: "overload" });
    await add("overload", "v", "overload");
    await eventually(async () => assert.deepEqual(handled.get("overload"), ["v"]), 10_000);
    assert.equal(state.overloads, 0);
    assert.deepEqual(await parked(), [], "nothing parked");
  });
});
