import assert from "node:assert/strict";
import { afterAll, afterEach, beforeAll, describe, it } from "@jest/globals";
import { credentials, status } from "@grpc/grpc-js";
import { FileCheckpointStore, MeshService, type Codec, type SagaDefinition } from "@recq-mesh/kit";
import { Reason, REASON_METADATA_KEY, SpanName } from "@recq-mesh/protocol";
import { SagaStateServiceClient, type LoadSagaStateResponse } from "@recq-mesh/protocol/gen/recq/v1/sagas";
import { ConsumeRequest, HandlerLinkServiceClient, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoItemAdded, TodoListCreated, TodoListRenamed } from "@recq-mesh/todo/gen/todo/v1/events";
import { call, closeHandlers, eventually, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { memorySpans, parentOf } from "../support/tracing";
import { eventClient, subscribeEvents } from "../support/event-subscriber";

/** The event types a consumer stream that names no types gets, through `head`. */
function consumeAll(address: string, head: number): Promise<string[]> {
  const client = new HandlerLinkServiceClient(address, credentials.createInsecure());
  const stream = client.consume();
  const types: string[] = [];
  return new Promise<string[]>((resolve, reject) => {
    stream.on("data", (response: ConsumeResponse) => {
      types.push(...response.events.map((e) => e.type));
      const through = Math.max(Number(response.reflectedPosition), ...response.events.map((e) => Number(e.position)));
      if (through >= head) resolve(types);
    });
    stream.on("error", reject);
    stream.write(ConsumeRequest.fromPartial({ open: { consumer: "everything", eventTypes: [], afterPosition: "0", instanceId: "test", credentials: "link-secret" }, permits: 100_000 }));
  }).finally(() => {
    stream.cancel();
    client.close();
  });
}

interface ListState {
  items: number;
}

const json: Codec<ListState> = {
  encode: (state) => ({ finish: () => Buffer.from(JSON.stringify(state)) }),
  decode: (bytes) => JSON.parse(Buffer.from(bytes).toString()) as ListState,
};

const events = {
  "todo.v1.TodoListCreated": TodoListCreated,
  "todo.v1.TodoItemAdded": TodoItemAdded,
  "todo.v1.TodoListRenamed": TodoListRenamed,
};

type ItemHook = (listId: string, context: Parameters<SagaDefinition<typeof events, ListState>["handle"]>[2]) => Promise<void>;

/**
 * A saga per list whose id starts with `prefix` (each test its own lists): it starts with the list, counts its
 * items, and ends when the list is renamed. `onItem` runs for each item step (what the test makes it do).
 */
function listSaga(name: string, checkpoints: FileCheckpointStore, prefix: string, onItem: ItemHook = async () => undefined) {
  const calls: string[] = [];
  const mine = (listId: string) => (listId.startsWith(prefix) ? listId : undefined);
  const saga: SagaDefinition<typeof events, ListState> = {
    name,
    events,
    state: { type: "test.ListState", codec: json, initial: () => ({ items: 0 }) },
    associate: {
      "todo.v1.TodoListCreated": (event) => mine(event.listId),
      "todo.v1.TodoItemAdded": (event) => mine(event.listId),
      "todo.v1.TodoListRenamed": (event) => mine(event.listId),
    },
    startsWith: ["todo.v1.TodoListCreated"],
    checkpoints,
    async handle(event, state, context) {
      calls.push(`${event.type}:${context.association}`);
      switch (event.type) {
        case "todo.v1.TodoListCreated":
          return state;
        case "todo.v1.TodoItemAdded":
          await onItem(event.data.listId, context);
          return { items: state.items + 1 };
        case "todo.v1.TodoListRenamed":
          context.end();
          return state;
      }
    },
  };
  return { saga, calls };
}

describe("sagas (kit)", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let clients: ReturnType<typeof todoClients>;
  const services: MeshService[] = [];
  let lastListEvent = Number.MAX_SAFE_INTEGER;

  beforeAll(async () => {
    data = await tempDir("saga-kit");
    mesh = await startGateway(`${data.dir}/gateway`, { linkToken: "link-secret" });
    todo = await startTodo(mesh.address, { credentials: "link-secret" });
    clients = todoClients(mesh.address);
  });

  afterEach(async () => {
    for (const service of services.splice(0)) await service.drain();
  });

  afterAll(async () => {
    clients.close();
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data.remove();
  });

  async function startSaga(saga: SagaDefinition<typeof events, ListState>): Promise<MeshService> {
    const service = new MeshService({ address: mesh.address, component: "sagas", credentials: "link-secret" });
    service.addSaga(saga);
    await service.start();
    services.push(service);
    return service;
  }

  function loadState(saga: string, association: string, token = "link-secret"): Promise<LoadSagaStateResponse> {
    const client = new SagaStateServiceClient(mesh.address, credentials.createInsecure());
    return new Promise((resolve, reject) =>
      client.loadSagaState({ saga, association, credentials: token }, (error, answer) => {
        client.close();
        if (error) reject(error);
        else resolve(answer);
      }),
    );
  }

  function stateOf(answer: LoadSagaStateResponse): ListState {
    return json.decode(answer.state!.payload);
  }

  it("correlates events to an instance, keeps its state, and ignores the instance's events after its end", async () => {
    const checkpoints = await FileCheckpointStore.open(`${data.dir}/counting`);
    const { saga, calls } = listSaga("counting", checkpoints, "counted");
    await startSaga(saga);
    await call(clients.commands, clients.commands.createTodoList, { listId: "counted", name: "Counted" });
    await call(clients.commands, clients.commands.addTodoItem, { listId: "counted", itemId: "1", text: "One" });
    await call(clients.commands, clients.commands.renameTodoList, { listId: "counted", name: "Ended" });
    // An instance that goes on: its events are handled once each, however often they are delivered.
    await call(clients.commands, clients.commands.createTodoList, { listId: "counted-open", name: "Open" });
    await call(clients.commands, clients.commands.addTodoItem, { listId: "counted-open", itemId: "1", text: "One" });
    const late = await call(clients.commands, clients.commands.addTodoItem, { listId: "counted", itemId: "2", text: "Two" });
    await eventually(async () => assert.ok((await checkpoints.read("counting")) >= Number(late.position)), 10_000);
    lastListEvent = Number(late.position);

    const state = await loadState("counting", "counted");
    assert.equal(state.ended, true);
    assert.equal(state.version, "3");
    assert.deepEqual(stateOf(state), { items: 1 });
    assert.equal(calls.filter((c) => c === "todo.v1.TodoItemAdded:counted").length, 1, "the item after the end is not handled");
  });

  it("replayed from the start (a lost checkpoint), handles no event twice", async () => {
    const { saga, calls } = listSaga("counting", await FileCheckpointStore.open(`${data.dir}/counting-lost`), "counted");
    await startSaga(saga);
    // Through the last event of its types (the store's head is a step record of its own, which it does not consume).
    await eventually(async () => assert.ok((await saga.checkpoints.read("counting")) >= lastListEvent), 10_000);
    assert.deepEqual(calls, []);
    assert.equal((await loadState("counting", "counted")).version, "3");
    const open = await loadState("counting", "counted-open");
    assert.equal(open.version, "2");
    assert.deepEqual(stateOf(open), { items: 1 });
  });

  it("a send that fails for want of a handler fails the step even when the handler catches it; the step runs again", async () => {
    const checkpoints = await FileCheckpointStore.open(`${data.dir}/echo`);
    let caught = 0;
    const { saga } = listSaga("echo", checkpoints, "echoed", async (listId, context) => {
      try {
        await context.send(TodoListCommandServiceService.completeTodoItem, { listId, itemId: "e" });
      } catch {
        caught += 1; // A careless handler: the step must fail all the same, or its command would be lost.
      }
    });
    await call(clients.commands, clients.commands.createTodoList, { listId: "echoed", name: "Echoed" });
    await call(clients.commands, clients.commands.addTodoItem, { listId: "echoed", itemId: "e", text: "E" });
    // The saga meets the item while no handler of the TodoList commands is linked.
    await closeHandlers(mesh.gateway, [todo.mesh]);
    await startSaga(saga);
    await eventually(async () => assert.ok(caught >= 1), 10_000);
    assert.equal((await loadState("echo", "echoed")).version, "1", "only the creation is recorded while the send cannot go out");

    todo = await startTodo(mesh.address, { credentials: "link-secret" });
    await eventually(async () => assert.equal((await loadState("echo", "echoed")).version, "2"), 20_000);
    assert.deepEqual(stateOf(await loadState("echo", "echoed")), { items: 1 });
    const completed = (await mesh.store.readAggregate("TodoList", "echoed")).events.filter((e) => e.type === "todo.v1.TodoItemCompleted");
    assert.equal(completed.length, 1);
  });

  it("traces each step as a child of the event's trace", async () => {
    const spans = memorySpans();
    spans.reset();
    const { saga } = listSaga("traced", await FileCheckpointStore.open(`${data.dir}/traced`), "traced");
    await startSaga(saga);
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4736";
    await call(clients.commands, clients.commands.createTodoList, { listId: "traced-list", name: "Traced" }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    const step = await eventually(async () => {
      const found = spans.getFinishedSpans().find((s) => s.name === SpanName.SAGA_STEP && s.attributes["recq.saga.association"] === "traced-list");
      assert.ok(found, "a saga step span");
      return found;
    }, 10_000);
    assert.equal(step.spanContext().traceId, traceId);
    const append = spans.getFinishedSpans().find((s) => s.name === SpanName.EVENT_APPEND && s.spanContext().traceId === traceId);
    assert.ok(append);
    assert.ok(parentOf(step), "the step has a parent in the command's trace");
    assert.equal(step.attributes["recq.saga"], "traced");
  });

  it("keeps saga steps out of clients' event subscriptions and of consumers that name no event types", async () => {
    const head = await mesh.store.headPosition();
    const steps = (await mesh.store.readAll(0, head)).filter((e) => e.type === "recq.v1.SagaStepRecorded");
    assert.ok(steps.length > 0, "the store holds saga steps");
    const client = eventClient(mesh.address);
    const subscriber = subscribeEvents(client);
    try {
      await eventually(async () => assert.ok(subscriber.lastSeen >= head), 10_000);
      assert.ok(subscriber.events.length > 0);
      assert.deepEqual(subscriber.events.filter((e) => e.aggregateType.startsWith("recq.saga.")), []);
    } finally {
      subscriber.cancel();
      client.close();
    }
    const consumed = await consumeAll(mesh.address, head);
    assert.ok(consumed.length > 0);
    assert.deepEqual(consumed.filter((type) => type === "recq.v1.SagaStepRecorded"), []);
  });

  it("serves saga state to components only: the link token is required", async () => {
    const missing = await failure(loadState("counting", "counted", ""));
    assert.equal(missing.code, status.UNAUTHENTICATED);
    const wrong = await failure(loadState("counting", "counted", "not-the-token"));
    assert.equal(wrong.code, status.PERMISSION_DENIED);
    assert.equal(wrong.metadata.get(REASON_METADATA_KEY)[0], Reason.PERMISSION_DENIED);
    assert.equal((await loadState("counting", "counted")).exists, true);
  });
});
