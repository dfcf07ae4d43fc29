import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { FileCheckpointStore } from "@recq-mesh/kit";
import { ITEM_TRANSFER_SAGA } from "@recq-mesh/todo";
import { TODO_MAIN } from "../support/built-packages";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";

const MOVES = 60;
const TARGETS = 3;
/** Kills tried until one lands between a step's sends (a kill may land after the step on a busy machine). */
const KILL_ATTEMPTS = 5;

/**
 * The TodoList service as `npm start` runs it (aggregate, projection, item-transfer saga in one process), killed with
 * SIGKILL while the saga works through a batch of moves, then started again: every move completes once. A second
 * TodoList aggregate runs in this process, so that commands the saga sent just before it died may still be carried
 * out (by this one) while the step that sent them was never recorded: the restarted saga must not repeat them.
 */
/**
 * Run twice: with the saga's checkpoint written per event, and coalesced with a window the run never reaches (the
 * checkpoint is never written before a kill, so every step handled before it is delivered again after the restart).
 */
const CHECKPOINTS = [
  { name: "its checkpoint written per event", env: { TODO_CHECKPOINT_INTERVAL_MS: "0" }, coalesced: false },
  { name: "its checkpoint coalesced", env: { TODO_CHECKPOINT_INTERVAL_MS: "60000", TODO_CHECKPOINT_MAX_EVENTS: "1000" }, coalesced: true },
];

describe.each(CHECKPOINTS)("the item-transfer saga's process, killed mid-saga, $name", ({ env: checkpointEnv, coalesced }) => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let aggregate: RunningTodo;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    data = await tempDir("saga-kill");
    mesh = await startGateway(path.join(data.dir, "gateway"));
    aggregate = await startTodo(mesh.address, { roles: ["commands"] });
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    aggregate?.mesh.close();
    await mesh?.gateway.stop();
    await data.remove();
  });

  function startService(): ChildProcess {
    const child = spawn(process.execPath, [TODO_MAIN], {
      env: {
        ...process.env,
        MONGODB_URI: "",
        RECQ_GATEWAY: mesh.address,
        RECQ_LOG_LEVEL: "warn",
        TODO_CHECKPOINT_DIR: path.join(data.dir, "checkpoints"),
        RECQ_BLOB_DIR: path.join(data.dir, "blobs"),
        ...checkpointEnv,
      },
      stdio: ["ignore", "ignore", "ignore"],
    });
    children.push(child);
    return child;
  }

  /** SIGKILLs `service` once the store has a saga-added item of a target at `sequence` or later; resolves when it exited. */
  async function killAtTargetItem(service: ChildProcess, sequence: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const stop = mesh.store.onAppended((head) => {
        void mesh.store.readAll(head - 1, 1).then(([last]) => {
          if (service.exitCode !== null || last?.type !== "todo.v1.TodoItemAdded" || !last.aggregateId.startsWith("target-")) return;
          if (Number(last.sequence) < sequence) return;
          service.kill("SIGKILL");
          stop();
          resolve();
        });
      });
    });
    if (service.exitCode === null && service.signalCode === null) await new Promise((resolve) => service.once("exit", resolve));
  }

  async function count(type: string, lists: string[]): Promise<number> {
    let n = 0;
    for (const listId of lists) n += (await mesh.store.readAggregate("TodoList", listId)).events.filter((e) => e.type === type).length;
    return n;
  }

  it("resumes every move after the kill, adding and removing each item once", async () => {
    const first = startService();
    await eventually(async () => assert.equal(mesh.gateway.handlerLinkCount, 2), 20_000);
    const sources = Array.from({ length: MOVES }, (_, n) => `source-${n}`);
    const targets = Array.from({ length: TARGETS }, (_, n) => `target-${n}`);
    const clients = todoClients(mesh.address);
    try {
      for (const listId of [...sources, ...targets]) await call(clients.commands, clients.commands.createTodoList, { listId, name: listId });
      for (const listId of sources) await call(clients.commands, clients.commands.addTodoItem, { listId, itemId: `item-${listId}`, text: "Move me" });
      await Promise.all(
        sources.map((listId, n) =>
          call(clients.commands, clients.commands.requestTodoItemTransfer, { listId, itemId: `item-${listId}`, targetListId: targets[n % TARGETS]! }),
        ),
      );
    } finally {
      clients.close();
    }

    // Kill it in the middle of a step: as soon as the store has an item the saga added to a target (its first send),
    // before the step has been recorded — after a few moves, so that some are done. A kill signal takes a moment to
    // land; on a busy machine the step may finish meanwhile, so the service is started again and killed at a later
    // step, a few times if need be, until one kill lands between a step's sends.
    let service = first;
    let landed = false;
    for (let attempt = 1; attempt <= KILL_ATTEMPTS && !landed; attempt++) {
      if (attempt > 1) service = startService();
      await killAtTargetItem(service, attempt === 1 ? 4 : 2);
      const addedAtKill = await count("todo.v1.TodoItemAdded", targets);
      const doneAtKill = await count("todo.v1.TodoItemTransferred", sources);
      assert.ok(doneAtKill < MOVES, `the saga had finished all ${MOVES} moves before the kill: nothing to resume`);
      landed = addedAtKill > doneAtKill;
      if (coalesced) {
        // Steps were handled (moves done), and none is checkpointed: all of them come again after the restart.
        assert.ok(doneAtKill > 0, "no move was done before the kill");
        assert.equal(await (await FileCheckpointStore.open(path.join(data.dir, "checkpoints"))).read(ITEM_TRANSFER_SAGA), 0);
      }
    }
    assert.ok(landed, `in ${KILL_ATTEMPTS} tries no kill came between a step's sends`);

    startService();
    await eventually(async () => assert.equal(await count("todo.v1.TodoItemTransferred", sources), MOVES), 60_000);
    assert.equal(await count("todo.v1.TodoItemAdded", targets), MOVES, "each item added to its target once");
    assert.equal(await count("todo.v1.TodoItemTransferCancelled", sources), 0, "no move was compensated");
    for (const listId of sources) {
      const types = (await mesh.store.readAggregate("TodoList", listId)).events.map((e) => e.type);
      assert.deepEqual(types, ["todo.v1.TodoListCreated", "todo.v1.TodoItemAdded", "todo.v1.TodoItemTransferRequested", "todo.v1.TodoItemTransferred"]);
    }
  });
});
