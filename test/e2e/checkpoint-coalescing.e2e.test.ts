import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { FileCheckpointStore, MeshService, type CheckpointCoalescing } from "@recq-mesh/kit";
import { todoEvents } from "@recq-mesh/todo";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";

const ITEMS = 10;

/**
 * An observer's checkpoint file, read from inside its handler at each event: what a crash at that moment would
 * resume from. With coalescing, it trails the events handled by fewer than `maxEvents`, moves in steps of
 * `maxEvents` when the interval is long, catches up within the interval when it is short, and holds the last event
 * handled once the consumer is drained.
 */
describe("an observer's coalesced checkpoint, seen through its file", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let clients: ReturnType<typeof todoClients>;
  let runs = 0;
  /** Every observer's service, closed at the end whatever a test left undone. */
  const services: MeshService[] = [];

  beforeAll(async () => {
    data = await tempDir("checkpoint-coalescing");
    mesh = await startGateway(path.join(data.dir, "gateway"));
    todo = await startTodo(mesh.address, { roles: ["commands"] });
    clients = todoClients(mesh.address);
    const c = clients.commands;
    await call(c, c.createTodoList, { listId: "errands", name: "Errands" });
    for (let n = 0; n < ITEMS; n++) await call(c, c.addTodoItem, { listId: "errands", itemId: `item-${n}`, text: `Errand ${n}` });
  });

  afterAll(async () => {
    for (const service of services) service.close();
    clients.close();
    await todo?.mesh.drain();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  /** The positions of the items added, in order. */
  const addedPositions = async () => (await mesh.store.readAll(0, 1_000)).filter((e) => e.type === "todo.v1.TodoItemAdded").map((e) => e.position);

  /**
   * Runs an observer of the items added under a name of its own; for each event, the position its checkpoint
   * file held when the handler was called (0: none yet). Returns the service undrained.
   */
  async function observe(coalescing: Partial<CheckpointCoalescing>): Promise<{ service: MeshService; seen: number[]; file: () => number }> {
    const name = `coalescing-${++runs}`;
    const folder = path.join(data.dir, name);
    const file = () => {
      try {
        return Number(readFileSync(path.join(folder, `${name}.checkpoint`), "utf8").trim());
      } catch {
        return 0;
      }
    };
    const seen: number[] = [];
    const service = new MeshService({ address: mesh.address, component: "coalescing-observer" });
    services.push(service);
    service.addObserver(
      {
        name,
        events: { "todo.v1.TodoItemAdded": todoEvents["todo.v1.TodoItemAdded"] },
        checkpoints: await FileCheckpointStore.open(folder),
        handle: () => void seen.push(file()),
      },
      { checkpointCoalescing: coalescing },
    );
    await service.start();
    await eventually(async () => assert.equal(seen.length, ITEMS), 20_000);
    return { service, seen, file };
  }

  it("writes per event with an interval of 0, as without coalescing", async () => {
    const positions = await addedPositions();
    const { service, seen, file } = await observe({ intervalMs: 0 });
    assert.deepEqual(seen, [0, ...positions.slice(0, -1)]);
    await eventually(async () => assert.equal(file(), positions.at(-1)));
    await service.drain();
  });

  it("lets at most maxEvents - 1 handled events wait for the write, and writes at the maxEvents-th", async () => {
    const positions = await addedPositions();
    // The interval never comes within the run: only the bound moves the file.
    const { service, seen, file } = await observe({ intervalMs: 60_000, maxEvents: 4 });
    // Before the k-th event is handled, the file holds the position of the event that made the count reach 4 last.
    const expected = positions.map((_, k) => (k < 4 ? 0 : positions[Math.floor(k / 4) * 4 - 1]!));
    assert.deepEqual(seen, expected);
    assert.equal(file(), positions[7], "the 9th and 10th events wait for the next write");

    // A clean stop writes the last position handled.
    await service.drain();
    assert.equal(file(), positions.at(-1));
  });

  it("writes within the interval when no more events come", async () => {
    const positions = await addedPositions();
    const { service, seen, file } = await observe({ intervalMs: 50, maxEvents: 1_000 });
    assert.equal(seen[0], 0);
    // No drain: the interval's write alone brings the file to the last event.
    await eventually(async () => assert.equal(file(), positions.at(-1)), 5_000);
    service.close();
  });
});
