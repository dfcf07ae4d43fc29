import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { EmbeddedCommandInbox, EmbeddedEventStore } from "@recq-mesh/gateway";
import { OutcomeState } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoItemAdded, TodoListCreated } from "@recq-mesh/todo/gen/todo/v1/events";
import type { MeshService } from "@recq-mesh/kit";
import { spawnGateway, type GatewayProcess } from "../support/gateway-process";
import { call, eventually, failure, startTodo, tempDir, todoClients } from "../support/mesh-harness";
import { getOutcome, outcomeClient, sendAccepted } from "../support/outcome-client";



describe("accepted commands across kill -9 of the gateway process", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let gateway: GatewayProcess | undefined;
  let todo: MeshService | undefined;

  beforeAll(async () => {
    data = await tempDir("accepted-crash");
  });

  afterAll(async () => {
    todo?.close();
    gateway?.child.kill("SIGKILL");
    await gateway?.exited;
    await data.remove();
  });

  it("runs every accepted command exactly once after the restart, in acceptance order per aggregate, and nothing executed before the kill again", async () => {
    gateway = await spawnGateway(data.dir, 0);
    let address = `127.0.0.1:${gateway.port}`;
    let clients = todoClients(address);
    let outcomes = outcomeClient(address);
    const accepted: string[] = [];
    const expectedItems = new Map<string, string[]>();
    try {
      // Before the kill, with a handler: accepted and executed.
      todo = (await startTodo(address, { roles: ["commands"] })).mesh;
      await sendAccepted(clients.commands, clients.commands.createTodoList, { listId: "k1", name: "K1" }, { "recq-command-id": "create-k1" });
      for (let index = 0; index < 3; index++) {
        await sendAccepted(clients.commands, clients.commands.addTodoItem, { listId: "k1", itemId: `early${index}`, text: "x" }, { "recq-command-id": `early-${index}` });
      }
      expectedItems.set("k1", ["early0", "early1", "early2"]);
      await eventually(async () => assert.equal((await getOutcome(outcomes, "early-2")).state, OutcomeState.OUTCOME_STATE_SUCCEEDED), 10_000);

      // The handler goes; what is accepted now waits in the inbox.
      todo.close();
      todo = undefined;
      await eventually(async () => {
        const refused = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "probe", name: "P" }));
        assert.equal(refused.code, status.UNAVAILABLE);
      }, 10_000);
      for (const listId of ["k2", "k3"]) {
        await sendAccepted(clients.commands, clients.commands.createTodoList, { listId, name: listId }, { "recq-command-id": `create-${listId}` });
        accepted.push(`create-${listId}`);
        expectedItems.set(listId, []);
      }
      for (let index = 0; index < 30; index++) {
        const listId = ["k1", "k2", "k3"][index % 3]!;
        const itemId = `late${index}`;
        const { ack } = await sendAccepted(clients.commands, clients.commands.addTodoItem, { listId, itemId, text: "x" });
        accepted.push(ack.commandId);
        expectedItems.get(listId)!.push(itemId);
      }
      // A repeat of a command executed before the kill: its outcome, not a second acceptance.
      const repeat = await sendAccepted(clients.commands, clients.commands.addTodoItem, { listId: "k1", itemId: "early0", text: "x" }, { "recq-command-id": "early-0" });
      assert.equal(repeat.outcomeHeader, "succeeded");
      assert.equal((await getOutcome(outcomes, accepted[0]!)).state, OutcomeState.OUTCOME_STATE_ACCEPTED);
    } finally {
      clients.close();
      outcomes.close();
    }

    gateway.child.kill("SIGKILL");
    await gateway.exited;

    // The crash window between an execution's append and its inbox entry being settled: an entry whose command id
    // already has its outcome in the event store. After the restart it must settle without running again.
    const inbox = await EmbeddedCommandInbox.open({ directory: data.dir });
    await inbox.add({
      commandId: "create-k1",
      method: "todo.v1.TodoListCommandService/CreateTodoList",
      payload: Buffer.from(CreateTodoList.encode({ listId: "k1", name: "K1" }).finish()),
      headers: {},
      trace: {},
      replyTo: undefined,
      acceptedAtMs: Date.now(),
    });
    await inbox.close();

    gateway = await spawnGateway(data.dir, gateway.port);
    address = `127.0.0.1:${gateway.port}`;
    clients = todoClients(address);
    outcomes = outcomeClient(address);
    try {
      todo = (await startTodo(address, { roles: ["commands"] })).mesh;
      for (const commandId of [...accepted, "create-k1"]) {
        await eventually(async () => assert.equal((await getOutcome(outcomes, commandId)).state, OutcomeState.OUTCOME_STATE_SUCCEEDED), 20_000);
      }
    } finally {
      clients.close();
      outcomes.close();
      todo?.close();
      todo = undefined;
    }
    gateway.child.kill("SIGTERM");
    await gateway.exited;
    gateway = undefined;

    const store = await EmbeddedEventStore.open({ directory: data.dir });
    try {
      const events = await store.readAll(0, 1_000);
      const created = events.filter((event) => event.type === "todo.v1.TodoListCreated").map((event) => TodoListCreated.decode(event.payload).listId);
      assert.deepEqual(created.sort(), ["k1", "k2", "k3"], "each list created once (lists are independent: no order between them)");
      for (const [listId, items] of expectedItems) {
        const added = events.filter((event) => event.aggregateId === listId && event.type === "todo.v1.TodoItemAdded").map((event) => TodoItemAdded.decode(event.payload).itemId);
        assert.deepEqual(added, items, `the items of ${listId}: each once, in acceptance order`);
      }
      assert.equal(events.length, 3 + 3 + 30);
    } finally {
      await store.close();
    }
  });

  it("killed while accepted commands are executing, it runs the rest after the restart, each once and in order", async () => {
    const dir = await tempDir("accepted-crash-running");
    let process_: GatewayProcess | undefined;
    let handler: MeshService | undefined;
    try {
      process_ = await spawnGateway(dir.dir, 0);
      let address = `127.0.0.1:${process_.port}`;
      handler = (await startTodo(address, { roles: ["commands"] })).mesh;
      let clients = todoClients(address);
      let outcomes = outcomeClient(address);
      const ids: string[] = [];
      try {
        for (const listId of ["r1", "r2"]) await sendAccepted(clients.commands, clients.commands.createTodoList, { listId, name: listId }, { "recq-command-id": `create-${listId}` });
        for (let index = 0; index < 200; index++) {
          const { ack } = await sendAccepted(clients.commands, clients.commands.addTodoItem, { listId: `r${(index % 2) + 1}`, itemId: `n${index}`, text: "x" }, { "recq-command-id": `run-${index}` });
          ids.push(ack.commandId);
        }
      } finally {
        clients.close();
        outcomes.close();
      }
      // At once after the last acceptance: usually some have run, some are running and the rest wait (not asserted:
      // whichever it is, every command must end up executed once).
      process_.child.kill("SIGKILL");
      await process_.exited;
      handler.close();
      process_ = await spawnGateway(dir.dir, process_.port);
      address = `127.0.0.1:${process_.port}`;
      handler = (await startTodo(address, { roles: ["commands"] })).mesh;
      clients = todoClients(address);
      outcomes = outcomeClient(address);
      try {
        for (const commandId of ids) {
          await eventually(async () => assert.equal((await getOutcome(outcomes, commandId)).state, OutcomeState.OUTCOME_STATE_SUCCEEDED), 20_000);
        }
      } finally {
        clients.close();
        outcomes.close();
      }
      handler.close();
      handler = undefined;
      process_.child.kill("SIGTERM");
      await process_.exited;
      process_ = undefined;
      const store = await EmbeddedEventStore.open({ directory: dir.dir });
      try {
        const events = await store.readAll(0, 1_000);
        for (const listId of ["r1", "r2"]) {
          const added = events.filter((event) => event.aggregateId === listId && event.type === "todo.v1.TodoItemAdded").map((event) => TodoItemAdded.decode(event.payload).itemId);
          const expected = Array.from({ length: 100 }, (_, k) => `n${2 * k + (listId === "r1" ? 0 : 1)}`);
          assert.deepEqual(added, expected, `${listId}: every item once, in acceptance order`);
        }
        assert.equal(events.length, 202);
      } finally {
        await store.close();
      }
    } finally {
      handler?.close();
      process_?.child.kill("SIGKILL");
      await process_?.exited;
      await dir.remove();
    }
  });
});
