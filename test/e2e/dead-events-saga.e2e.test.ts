import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { FileCheckpointStore, MeshService, type Codec, type SagaDefinition } from "@recq-mesh/kit";
import type { DeadEventServiceClient } from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { TodoItemAdded, TodoListCreated } from "@recq-mesh/todo/gen/todo/v1/events";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { deadEventClient } from "../support/dead-event-audit";

const SAGA = "poison-saga";

interface ItemsSeen {
  items: string[];
}

const json: Codec<ItemsSeen> = {
  encode: (state) => ({ finish: () => Buffer.from(JSON.stringify(state)) }),
  decode: (bytes) => JSON.parse(Buffer.from(bytes).toString()) as ItemsSeen,
};

const events = { "todo.v1.TodoListCreated": TodoListCreated, "todo.v1.TodoItemAdded": TodoItemAdded };

/**
 * A saga's events go through the same dead-event queue as a projection's: a step that keeps failing is parked with
 * its aggregate's later events, the other instances go on, and a retry takes the parked steps in order, once each
 * (the instance's state, kept by the gateway, shows every item once).
 */
describe("dead-event queue of a saga", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let sagaService: MeshService;
  let clients: ReturnType<typeof todoClients>;
  let admin: DeadEventServiceClient;
  const state = { broken: true };
  /** The items each instance's state held after each step, per list: what the gateway recorded. */
  const recorded = new Map<string, string[]>();

  beforeAll(async () => {
    data = await tempDir("dead-events-saga");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address, { roles: ["commands"] });
    const saga: SagaDefinition<typeof events, ItemsSeen> = {
      name: SAGA,
      events,
      state: { type: "test.ItemsSeen", codec: json, initial: () => ({ items: [] }) },
      associate: { "todo.v1.TodoListCreated": (event) => event.listId, "todo.v1.TodoItemAdded": (event) => event.listId },
      startsWith: ["todo.v1.TodoListCreated"],
      checkpoints: await FileCheckpointStore.open(`${data.dir}/saga-checkpoints`),
      async handle(event, seen, context) {
        if (event.type !== "todo.v1.TodoItemAdded") return seen;
        if (state.broken && event.data.text === "poison") throw new Error(`cannot take the poison item of ${event.data.listId}`);
        const next = { items: [...seen.items, event.data.itemId] };
        recorded.set(context.association, next.items);
        return next;
      },
    };
    sagaService = new MeshService({ address: mesh.address, component: "saga" });
    sagaService.addSaga(saga, { deadEvents: { attempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 } });
    await sagaService.start();
    clients = todoClients(mesh.address);
    admin = deadEventClient(mesh.address);
  });

  afterAll(async () => {
    clients?.close();
    admin?.close();
    await sagaService?.drain();
    await todo?.mesh.drain();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  const add = (listId: string, itemId: string, text = itemId) => call(clients.commands, clients.commands.addTodoItem, { listId, itemId, text });
  const parked = async () => (await call(admin, admin.listParkedEvents, { consumer: SAGA, afterPosition: "0", pageSize: 0 })).events;

  it("parks a failing step and its list's later events, lets other instances go on, and takes the parked steps once on retry", async () => {
    for (const listId of ["steady", "stuck"]) await call(clients.commands, clients.commands.createTodoList, { listId, name: listId });
    await add("stuck", "p", "poison");
    await add("stuck", "after");
    await add("steady", "s1");

    await eventually(async () => assert.deepEqual(recorded.get("steady"), ["s1"]), 10_000);
    await eventually(async () => assert.deepEqual((await parked()).map((event) => event.aggregateId), ["stuck", "stuck"]), 10_000);
    assert.equal(recorded.get("stuck"), undefined, "no step of the stuck list was taken");

    state.broken = false;
    assert.equal((await call(admin, admin.retryParked, { consumer: SAGA, aggregateType: "TodoList", aggregateId: "stuck" })).scheduled, 2);
    await eventually(async () => assert.deepEqual(recorded.get("stuck"), ["p", "after"]), 10_000);
    await eventually(async () => assert.deepEqual(await parked(), []));
    await add("stuck", "later");
    await eventually(async () => assert.deepEqual(recorded.get("stuck"), ["p", "after", "later"]), 10_000);
  });
});
