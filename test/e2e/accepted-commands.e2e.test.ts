import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, it } from "@jest/globals";
import { OutcomeState } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { TodoItemAdded } from "@recq-mesh/todo/gen/todo/v1/events";
import { CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import { acceptedCommandBytes } from "@recq-mesh/gateway/internal/accepted/accepted-command";
import { MeshService } from "@recq-mesh/kit";
import { todoListAggregate } from "@recq-mesh/todo";
import { call, eventually, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";
import { getOutcome, outcomeClient, sendAccepted, watchOutcome } from "../support/outcome-client";

const reasonOf = (error: { metadata: { get(key: string): unknown[] } }) => error.metadata.get("recq-reason")[0];

describe("accepted commands (recq-mode: async) and outcomes by command id", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let running: RunningGateway | undefined;
  const meshes: MeshService[] = [];
  const closers: (() => void)[] = [];

  beforeEach(async () => {
    data = await tempDir("accepted");
  });

  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    for (const mesh of meshes.splice(0)) mesh.close();
    await running?.gateway.stop();
    running = undefined;
    await data.remove();
  });

  async function start(limits: Parameters<typeof startGateway>[1] = {}) {
    running = await startGateway(data.dir, limits);
    const clients = todoClients(running.address);
    const outcomes = outcomeClient(running.address);
    closers.push(clients.close, () => outcomes.close());
    return { ...clients, outcomes, address: running.address };
  }

  async function linkTodo(address: string) {
    const todo = await startTodo(address, { roles: ["commands"] });
    meshes.push(todo.mesh);
    return todo;
  }

  it("accepts at once while no handler is linked, runs the commands in order once one links, and the outcome follows each", async () => {
    const { commands, outcomes, address } = await start();
    const created = await sendAccepted(commands, commands.createTodoList, { listId: "l1", name: "Groceries" }, { "recq-command-id": "create-l1" });
    assert.equal(created.outcomeHeader, "accepted");
    assert.deepEqual(created.ack, { commandId: "create-l1", position: "0", sequence: "0" });
    const adds: { ack: { commandId: string } }[] = [];
    for (let index = 0; index < 8; index++) {
      adds.push(await sendAccepted(commands, commands.addTodoItem, { listId: "l1", itemId: `i${index}`, text: `item ${index}` }));
    }
    const generated = adds[0]!.ack.commandId;
    assert.match(generated, /^[0-9a-f-]{36}$/, "a command id is generated when the caller sends none");

    const waiting = await getOutcome(outcomes, "create-l1");
    assert.equal(waiting.state, OutcomeState.OUTCOME_STATE_ACCEPTED);
    assert.equal(waiting.method, "todo.v1.TodoListCommandService/CreateTodoList");
    assert.ok(waiting.acceptedTime instanceof Date && Date.now() - waiting.acceptedTime.getTime() < 60_000);
    const watch = watchOutcome(outcomes, generated);

    await linkTodo(address);
    assert.equal(await watch.ended, undefined, "the watch ends by itself after the final outcome");
    const states = watch.outcomes.map((outcome) => outcome.state);
    assert.equal(states[0], OutcomeState.OUTCOME_STATE_ACCEPTED);
    assert.equal(states.at(-1), OutcomeState.OUTCOME_STATE_SUCCEEDED);
    assert.deepEqual(watch.outcomes.at(-1)!.ack, { commandId: generated, position: "2", sequence: "2" });

    await eventually(async () => assert.equal((await getOutcome(outcomes, adds.at(-1)!.ack.commandId)).state, OutcomeState.OUTCOME_STATE_SUCCEEDED));
    const events = await running!.store.readAll(0, 100);
    assert.deepEqual(
      events.slice(1).map((event) => TodoItemAdded.decode(event.payload).itemId),
      adds.map((_, index) => `i${index}`),
      "executed once each, in acceptance order",
    );
  });

  it("a watch that starts before the command is sent waits for it and ends with its final outcome (a synchronous command too)", async () => {
    const { commands, outcomes, address } = await start();
    await linkTodo(address);
    const watch = watchOutcome(outcomes, "sync-1");
    await eventually(async () => assert.equal(watch.outcomes.length, 1));
    assert.equal(watch.outcomes[0]!.state, OutcomeState.OUTCOME_STATE_UNKNOWN);
    const ack = await call(commands, commands.createTodoList, { listId: "s1", name: "Sync" }, { "recq-command-id": "sync-1" });
    assert.equal(await watch.ended, undefined);
    assert.deepEqual(
      watch.outcomes.map((outcome) => outcome.state),
      [OutcomeState.OUTCOME_STATE_UNKNOWN, OutcomeState.OUTCOME_STATE_RUNNING, OutcomeState.OUTCOME_STATE_SUCCEEDED],
    );
    assert.deepEqual(watch.outcomes[2]!.ack, ack);
    const polled = await getOutcome(outcomes, "sync-1");
    assert.equal(polled.state, OutcomeState.OUTCOME_STATE_SUCCEEDED);
    assert.deepEqual(polled.ack, ack);
  });

  it("a watch of an id that never comes ends at its deadline; an id never sent is UNKNOWN", async () => {
    const { outcomes } = await start();
    assert.equal((await getOutcome(outcomes, "never")).state, OutcomeState.OUTCOME_STATE_UNKNOWN);
    const watch = watchOutcome(outcomes, "never", 500);
    const ended = await watch.ended;
    assert.equal(ended?.code, status.DEADLINE_EXCEEDED);
    assert.deepEqual(
      watch.outcomes.map((outcome) => outcome.state),
      [OutcomeState.OUTCOME_STATE_UNKNOWN],
    );
    const empty = await failure(getOutcome(outcomes, ""));
    assert.equal(empty.code, status.INVALID_ARGUMENT);
  });

  it("a repeat of a waiting command id is accepted again, not recorded twice; once final, a repeat gets the outcome, as a synchronous repeat does", async () => {
    const { commands, outcomes, address } = await start();
    const request = { listId: "r1", name: "Repeat" };
    await sendAccepted(commands, commands.createTodoList, request, { "recq-command-id": "repeat-1" });
    const again = await sendAccepted(commands, commands.createTodoList, request, { "recq-command-id": "repeat-1" });
    assert.equal(again.outcomeHeader, "accepted");
    assert.equal(running!.gateway.acceptedCommands!.waiting, 1);
    await linkTodo(address);
    await eventually(async () => assert.equal((await getOutcome(outcomes, "repeat-1")).state, OutcomeState.OUTCOME_STATE_SUCCEEDED));
    const final = await sendAccepted(commands, commands.createTodoList, request, { "recq-command-id": "repeat-1" });
    assert.equal(final.outcomeHeader, "succeeded");
    assert.deepEqual(final.ack, { commandId: "repeat-1", position: "1", sequence: "1" });
    assert.deepEqual(await call(commands, commands.createTodoList, request, { "recq-command-id": "repeat-1" }), final.ack);
    assert.equal((await running!.store.readAll(0, 10)).length, 1, "executed once");
  });

  it("a synchronous call with the id of an accepted command still waiting gets that command's outcome in its turn, not a second run out of order", async () => {
    const { commands, address } = await start();
    await sendAccepted(commands, commands.createTodoList, { listId: "o1", name: "O" }, { "recq-command-id": "o-create" });
    await sendAccepted(commands, commands.addTodoItem, { listId: "o1", itemId: "first", text: "x" }, { "recq-command-id": "o-first" });
    await sendAccepted(commands, commands.addTodoItem, { listId: "o1", itemId: "second", text: "x" }, { "recq-command-id": "o-second" });
    // No handler yet: run now, it would fail with UNAVAILABLE; it waits for the accepted one instead.
    const repeat = call(commands, commands.addTodoItem, { listId: "o1", itemId: "second", text: "x" }, { "recq-command-id": "o-second" }, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await linkTodo(address);
    assert.deepEqual(await repeat, { commandId: "o-second", position: "3", sequence: "3" }, "the accepted command's ack: it ran third, once");
    assert.equal((await running!.store.readAll(0, 10)).length, 3);
  });

  it("a domain rule's refusal is the accepted command's final outcome, with the code, message and reason a synchronous caller gets", async () => {
    const { commands, outcomes, address } = await start();
    await linkTodo(address);
    const watch = watchOutcome(outcomes, "add-missing");
    await sendAccepted(commands, commands.addTodoItem, { listId: "nope", itemId: "a", text: "x" }, { "recq-command-id": "add-missing" });
    assert.equal(await watch.ended, undefined);
    const last = watch.outcomes.at(-1)!;
    assert.equal(last.state, OutcomeState.OUTCOME_STATE_FAILED);
    assert.equal(last.failure?.code, status.NOT_FOUND);
    assert.match(last.failure!.message, /todo list nope does not exist/);
    const repeat = await failure(sendAccepted(commands, commands.addTodoItem, { listId: "nope", itemId: "a", text: "x" }, { "recq-command-id": "add-missing" }));
    assert.equal(repeat.code, status.NOT_FOUND);
  });

  it("validates before accepting: an unknown recq-mode, a missing routing key and a command id too long are refused, and nothing is accepted", async () => {
    const { commands } = await start();
    const mode = await failure(call(commands, commands.createTodoList, { listId: "v1", name: "V" }, { "recq-mode": "later" }));
    assert.equal(mode.code, status.INVALID_ARGUMENT);
    assert.match(mode.details, /recq-mode/);
    const key = await failure(sendAccepted(commands, commands.createTodoList, { listId: "", name: "V" }));
    assert.equal(key.code, status.INVALID_ARGUMENT);
    assert.match(key.details, /list_id is required/);
    const id = await failure(sendAccepted(commands, commands.createTodoList, { listId: "v1", name: "V" }, { "recq-command-id": "x".repeat(129) }));
    assert.equal(id.code, status.INVALID_ARGUMENT);
    assert.equal(running!.gateway.acceptedCommands!.waiting, 0);
  });

  it("holds at most RECQ_MAX_ACCEPTED_COMMANDS: at the limit it accepts, one past it refuses with RESOURCE_EXHAUSTED, and room comes back once they ran", async () => {
    const { commands, outcomes, address } = await start({ limits: { maxAcceptedCommands: 3 } });
    for (let index = 0; index < 3; index++) {
      await sendAccepted(commands, commands.createTodoList, { listId: `b${index}`, name: "B" }, { "recq-command-id": `b${index}` });
    }
    const refused = await failure(sendAccepted(commands, commands.createTodoList, { listId: "b3", name: "B" }, { "recq-command-id": "b3" }));
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
    assert.equal(reasonOf(refused), "ACCEPTED_COMMANDS_FULL");
    assert.match(refused.details, /RECQ_MAX_ACCEPTED_COMMANDS/);
    assert.equal((await getOutcome(outcomes, "b3")).state, OutcomeState.OUTCOME_STATE_UNKNOWN, "the refused command was not recorded");
    await linkTodo(address);
    await eventually(async () => assert.equal(running!.gateway.acceptedCommands!.waiting, 0));
    assert.equal((await sendAccepted(commands, commands.createTodoList, { listId: "b3", name: "B" }, { "recq-command-id": "b3" })).outcomeHeader, "accepted");
  });

  it("holds at most RECQ_MAX_ACCEPTED_BYTES of accepted commands: two commands filling it to the byte are accepted, the next is refused", async () => {
    // What one of these commands counts (acceptedCommandBytes); untraced calls carry no trace context.
    const size = (listId: string) =>
      acceptedCommandBytes({
        commandId: listId,
        method: "todo.v1.TodoListCommandService/CreateTodoList",
        payload: Buffer.from(CreateTodoList.encode({ listId, name: "M" }).finish()),
        headers: {},
        trace: {},
        replyTo: undefined,
        acceptedAtMs: 0,
      });
    const { commands } = await start({ limits: { maxAcceptedBytes: size("m0") + size("m1") } });
    await sendAccepted(commands, commands.createTodoList, { listId: "m0", name: "M" }, { "recq-command-id": "m0" });
    await sendAccepted(commands, commands.createTodoList, { listId: "m1", name: "M" }, { "recq-command-id": "m1" });
    assert.equal(running!.gateway.acceptedCommands!.waiting, 2, "both fit, to the byte");
    const refused = await failure(sendAccepted(commands, commands.createTodoList, { listId: "m2", name: "M" }, { "recq-command-id": "m2" }));
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
    assert.equal(reasonOf(refused), "ACCEPTED_COMMANDS_FULL");
    assert.match(refused.details, /RECQ_MAX_ACCEPTED_BYTES/);
  });

  it("a command that cannot run within its time-to-live fails for good with DEADLINE_EXCEEDED, reason ACCEPTED_COMMAND_EXPIRED", async () => {
    const { commands, outcomes } = await start({ limits: { acceptedCommandTtlMs: 400 } });
    const watch = watchOutcome(outcomes, "ttl-1");
    await sendAccepted(commands, commands.createTodoList, { listId: "t1", name: "T" }, { "recq-command-id": "ttl-1" });
    assert.equal(await watch.ended, undefined);
    const last = watch.outcomes.at(-1)!;
    assert.equal(last.state, OutcomeState.OUTCOME_STATE_FAILED);
    assert.equal(last.failure?.code, status.DEADLINE_EXCEEDED);
    assert.equal(last.failure?.reason, "ACCEPTED_COMMAND_EXPIRED");
    assert.ok(watch.outcomes.some((outcome) => outcome.state === OutcomeState.OUTCOME_STATE_RUNNING), "it was tried (no handler) before it expired");
    assert.equal(running!.gateway.acceptedCommands!.waiting, 0);
  });

  it("runs at most RECQ_ACCEPTED_CONCURRENCY accepted commands at once: at the limit they run, one more waits as ACCEPTED", async () => {
    const { commands, outcomes, address } = await start({ limits: { acceptedConcurrency: 2 } });
    // A TodoList whose CreateTodoList never decides: each attempt holds its place until the test ends.
    const hanging = new MeshService({ address, component: "todo" });
    hanging.addAggregate({ ...todoListAggregate, decide: { ...todoListAggregate.decide, createTodoList: () => new Promise<never>(() => undefined) } });
    await hanging.start();
    meshes.push(hanging);
    for (const listId of ["c0", "c1", "c2"]) await sendAccepted(commands, commands.createTodoList, { listId, name: "C" }, { "recq-command-id": listId });
    const states = async () => Promise.all(["c0", "c1", "c2"].map(async (id) => (await getOutcome(outcomes, id)).state));
    await eventually(async () => assert.deepEqual(await states(), [OutcomeState.OUTCOME_STATE_RUNNING, OutcomeState.OUTCOME_STATE_RUNNING, OutcomeState.OUTCOME_STATE_ACCEPTED]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await states(), [OutcomeState.OUTCOME_STATE_RUNNING, OutcomeState.OUTCOME_STATE_RUNNING, OutcomeState.OUTCOME_STATE_ACCEPTED], "the third still waits");
  });

  it("keeps at most RECQ_MAX_OUTCOME_WATCHES watches open: at the limit they open, one more is refused, and a place comes back when one ends", async () => {
    const { outcomes } = await start({ limits: { maxOutcomeWatches: 2 } });
    const first = watchOutcome(outcomes, "w1");
    const second = watchOutcome(outcomes, "w2");
    await eventually(async () => assert.equal(first.outcomes.length + second.outcomes.length, 2));
    const third = watchOutcome(outcomes, "w3");
    const refused = await third.ended;
    assert.equal(refused?.code, status.RESOURCE_EXHAUSTED);
    assert.match(refused!.details, /RECQ_MAX_OUTCOME_WATCHES/);
    first.cancel();
    await first.ended;
    await eventually(async () => {
      const again = watchOutcome(outcomes, "w4", 300);
      assert.equal((await again.ended)?.code, status.DEADLINE_EXCEEDED, "it opened, waited and reached its deadline");
      assert.equal(again.outcomes.length, 1);
    });
    second.cancel();
  });

  it("ends open watches with UNAVAILABLE, reason SHUTTING_DOWN, when the gateway stops", async () => {
    const { outcomes } = await start();
    const watch = watchOutcome(outcomes, "until-shutdown", 30_000);
    await eventually(async () => assert.equal(watch.outcomes.length, 1));
    await running!.gateway.stop();
    const ended = await watch.ended;
    assert.equal(ended?.code, status.UNAVAILABLE);
    assert.equal(reasonOf(ended!), "SHUTTING_DOWN");
  });

  it("protects the outcome service with the caller token", async () => {
    const { outcomes } = await start({ clientToken: "secret" });
    const missing = await failure(getOutcome(outcomes, "x"));
    assert.equal(missing.code, status.UNAUTHENTICATED);
    const watch = watchOutcome(outcomes, "x", 2_000, { authorization: "Bearer wrong" });
    assert.equal((await watch.ended)?.code, status.PERMISSION_DENIED);
    assert.equal((await getOutcome(outcomes, "x", { authorization: "Bearer secret" })).state, OutcomeState.OUTCOME_STATE_UNKNOWN);
  });
});
