import assert from "node:assert/strict";
import { afterAll, afterEach, beforeAll, describe, it } from "@jest/globals";
import { FileCheckpointStore, MeshService } from "@recq-mesh/kit";
import { itemTransferSaga, ITEM_TRANSFER_SAGA } from "@recq-mesh/todo";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { SagaStateServiceClient } from "@recq-mesh/protocol/gen/recq/v1/sagas";
import { credentials } from "@grpc/grpc-js";

type TransferSaga = ReturnType<typeof itemTransferSaga>;

/**
 * The item-transfer saga through a real gateway: the move, its compensation, and crashes of the saga's process and
 * of the gateway (embedded store) in the middle of a step, after its commands went out and before it was recorded.
 */
describe("item-transfer saga", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  const sagaMeshes: MeshService[] = [];

  beforeAll(async () => {
    data = await tempDir("saga-transfer");
    mesh = await startGateway(`${data.dir}/gateway`);
    todo = await startTodo(mesh.address);
  });

  afterEach(async () => {
    for (const saga of sagaMeshes.splice(0)) await saga.drain();
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data.remove();
  });

  /** The saga in a service of its own, checkpointing in `folder`. */
  async function startSaga(folder: string, wrap: (saga: TransferSaga) => TransferSaga = (s) => s): Promise<MeshService> {
    const service = new MeshService({ address: mesh.address, component: "todo-sagas" });
    service.addSaga(wrap(itemTransferSaga(await FileCheckpointStore.open(folder))));
    await service.start();
    sagaMeshes.push(service);
    return service;
  }

  async function eventTypes(listId: string): Promise<string[]> {
    return (await mesh.store.readAggregate("TodoList", listId)).events.map((e) => e.type);
  }

  async function events(listId: string) {
    return (await mesh.store.readAggregate("TodoList", listId)).events;
  }

  async function lists(...names: string[]) {
    const clients = todoClients(mesh.address);
    try {
      for (const listId of names) await call(clients.commands, clients.commands.createTodoList, { listId, name: listId });
    } finally {
      clients.close();
    }
  }

  async function send<R>(work: (clients: ReturnType<typeof todoClients>) => Promise<R>): Promise<R> {
    const clients = todoClients(mesh.address);
    try {
      return await work(clients);
    } finally {
      clients.close();
    }
  }

  function loadState(saga: string, association: string) {
    const client = new SagaStateServiceClient(mesh.address, credentials.createInsecure());
    return new Promise<{ exists: boolean; ended: boolean; version: string; lastPosition: string }>((resolve, reject) =>
      client.loadSagaState({ saga, association, credentials: "" }, (error, answer) => {
        client.close();
        if (error) reject(error);
        else resolve(answer);
      }),
    );
  }

  it("moves an item: added to the target, removed from the source, and the instance ends", async () => {
    await lists("happy-from", "happy-to");
    await startSaga(`${data.dir}/checkpoints-happy`);
    await send((c) => call(c.commands, c.commands.addTodoItem, { listId: "happy-from", itemId: "milk", text: "Buy milk" }));
    await send((c) => call(c.commands, c.commands.requestTodoItemTransfer, { listId: "happy-from", itemId: "milk", targetListId: "happy-to" }));

    await eventually(async () => assert.deepEqual((await eventTypes("happy-from")).slice(-1), ["todo.v1.TodoItemTransferred"]), 10_000);
    const added = (await events("happy-to")).filter((e) => e.type === "todo.v1.TodoItemAdded");
    assert.equal(added.length, 1);
    // Sent by the saga, with the command id of its step: recq:saga:<name>:<association>:<position>:<n>.
    assert.match(added[0]!.commandId, /^recq:saga:item-transfer:happy-from@3:\d+:1$/);
    await eventually(async () => assert.equal((await loadState(ITEM_TRANSFER_SAGA, "happy-from@3")).ended, true), 10_000);
    const token = String(added[0]!.position);
    const view = await send((c) => call(c.queries, c.queries.getTodoList, { listId: "happy-to" }, { "recq-consistency-token": token }));
    assert.deepEqual(view.items.map((i) => [i.itemId, i.text]), [["milk", "Buy milk"]]);
  });

  it("compensates when the target refuses (no such list, an item of that id already there): the item stays", async () => {
    await lists("refused-from", "refused-to");
    await startSaga(`${data.dir}/checkpoints-refused`);
    await send(async (c) => {
      await call(c.commands, c.commands.addTodoItem, { listId: "refused-from", itemId: "x", text: "X" });
      await call(c.commands, c.commands.addTodoItem, { listId: "refused-to", itemId: "x", text: "X elsewhere" });
      await call(c.commands, c.commands.requestTodoItemTransfer, { listId: "refused-from", itemId: "x", targetListId: "nowhere" });
    });
    await eventually(async () => assert.deepEqual((await eventTypes("refused-from")).slice(-1), ["todo.v1.TodoItemTransferCancelled"]), 10_000);
    const cancelled = (await events("refused-from")).at(-1)!;
    assert.match(cancelled.payload.toString(), /todo list nowhere does not exist/);

    // The item is free again: a second move, to a list that already has an item x, is refused too.
    await send((c) => call(c.commands, c.commands.requestTodoItemTransfer, { listId: "refused-from", itemId: "x", targetListId: "refused-to" }));
    await eventually(async () => assert.equal((await eventTypes("refused-from")).filter((t) => t === "todo.v1.TodoItemTransferCancelled").length, 2), 10_000);
    assert.match((await events("refused-from")).at(-1)!.payload.toString(), /already has an item x/);
    const token = String((await events("refused-from")).at(-1)!.position);
    const view = await send((c) => call(c.queries, c.queries.getTodoList, { listId: "refused-from" }, { "recq-consistency-token": token }));
    assert.deepEqual(view.items.map((i) => i.itemId), ["x"]);
    assert.deepEqual((await eventTypes("refused-to")).filter((t) => t === "todo.v1.TodoItemAdded").length, 1);
  });

  it("resumes after a crash of the saga's process mid-step, sending nothing twice", async () => {
    await lists("crash-from", "crash-to");
    const folder = `${data.dir}/checkpoints-crash`;
    let crash: (error: Error) => void = () => undefined;
    let stepDone: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => (stepDone = resolve));
    // The step sends its commands, then its process dies before the step is recorded.
    const crashed = await startSaga(folder, (saga) => ({
      ...saga,
      handle: async (event, state, context) => {
        const next = await saga.handle(event, state, context);
        stepDone();
        await new Promise<never>((_, reject) => (crash = reject));
        return next;
      },
    }));
    await send(async (c) => {
      await call(c.commands, c.commands.addTodoItem, { listId: "crash-from", itemId: "a", text: "A" });
      await call(c.commands, c.commands.requestTodoItemTransfer, { listId: "crash-from", itemId: "a", targetListId: "crash-to" });
    });
    await sent;
    // Both commands ran; the step is not recorded.
    assert.deepEqual((await eventTypes("crash-from")).slice(-1), ["todo.v1.TodoItemTransferred"]);
    assert.equal((await loadState(ITEM_TRANSFER_SAGA, "crash-from@3")).exists, false);
    sagaMeshes.splice(sagaMeshes.indexOf(crashed), 1);
    crashed.close();
    crash(new Error("the process died"));

    await startSaga(folder);
    await eventually(async () => assert.equal((await loadState(ITEM_TRANSFER_SAGA, "crash-from@3")).ended, true), 10_000);
    // The step ran again: its sends got the outcomes recorded the first time, and executed nothing again.
    assert.equal((await eventTypes("crash-to")).filter((t) => t === "todo.v1.TodoItemAdded").length, 1);
    assert.equal((await eventTypes("crash-from")).filter((t) => t === "todo.v1.TodoItemTransferred").length, 1);
  });

  it("resumes after a restart of the gateway mid-step (embedded store): the state loads, nothing is sent twice", async () => {
    await lists("restart-from", "restart-to");
    const folder = `${data.dir}/checkpoints-restart`;
    let fail: (error: Error) => void = () => undefined;
    let stepDone: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => (stepDone = resolve));
    let runs = 0;
    // The first run of the step sends its commands, and fails once the gateway is gone: it is not recorded.
    await startSaga(folder, (saga) => ({
      ...saga,
      handle: async (event, state, context) => {
        const next = await saga.handle(event, state, context);
        if (event.type === "todo.v1.TodoItemTransferRequested" && ++runs === 1) {
          stepDone();
          await new Promise<never>((_, reject) => (fail = reject));
        }
        return next;
      },
    }));
    await send(async (c) => {
      await call(c.commands, c.commands.addTodoItem, { listId: "restart-from", itemId: "b", text: "B" });
      await call(c.commands, c.commands.requestTodoItemTransfer, { listId: "restart-from", itemId: "b", targetListId: "restart-to" });
    });
    await sent;
    const port = mesh.gateway.port;
    await mesh.gateway.stop();
    fail(new Error("the gateway went away"));
    mesh = await startGateway(`${data.dir}/gateway`, { port });
    await eventually(async () => assert.equal((await loadState(ITEM_TRANSFER_SAGA, "restart-from@3")).ended, true), 20_000);
    // The step ran once more, against the restarted gateway: the outcomes of its sends were kept by the store.
    assert.equal(runs, 2);
    assert.equal((await eventTypes("restart-to")).filter((t) => t === "todo.v1.TodoItemAdded").length, 1);
    assert.equal((await eventTypes("restart-from")).filter((t) => t === "todo.v1.TodoItemTransferred").length, 1);
    // Earlier instances' state survived the restart too.
    const earlier = await loadState(ITEM_TRANSFER_SAGA, "happy-from@3");
    assert.equal(earlier.exists, true);
    assert.equal(earlier.ended, true);
    assert.equal(earlier.version, "2");
  });
});
