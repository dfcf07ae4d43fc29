// `npm run bench:saga [-- <transfers>]`: events per second through a saga. A gateway runs in this process on an
// embedded store holding a backlog of item moves (default 1,000): for each, a source list with one item and its
// TodoItemTransferRequested, over 100 target lists. Then the TodoList aggregate and the item-transfer saga start in
// a child process (as `npm start` runs them) and carry every move out: per move, two saga steps (the request, then
// the source's TodoItemTransferred that ends the instance), two commands sent through the link, two state loads
// and two step records at the gateway, two checkpoint advances. Prints the saga's events handled per second and
// moves completed per second, and the CPU per move of each process, for the checkpoint in a file written per event
// (fsync'd; coalescing interval 0), the same file with the kit's default coalescing (at most every 100 ms or 100
// events), and the checkpoint kept in memory (no write at all).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { defaultLimits, EmbeddedEventStore, Gateway, loadDescriptorCatalog } from "@recq-mesh/gateway";
import { SagaStates } from "@recq-mesh/gateway/internal/sagas/saga-states";
import { ITEM_TRANSFER_SAGA } from "@recq-mesh/todo";
import { TodoItemAdded, TodoItemTransferRequested, TodoListCreated } from "@recq-mesh/todo/gen/todo/v1/events";
import { TODO_DESCRIPTORS } from "../test/support/built-packages";
import { cpuMicros, startScript } from "./lib/processes";

const TARGETS = 100;
const IN_FLIGHT = 128;

type Encodable<T> = { encode(message: T): { finish(): Uint8Array } };

function event<T>(type: string, codec: Encodable<T>, data: T) {
  return { type, payload: Buffer.from(codec.encode(data).finish()), metadata: {} };
}

/** The backlog: target lists, then per move a source list with its item and the request, as the aggregate would decide them. */
async function fill(store: EmbeddedEventStore, moves: number): Promise<void> {
  for (let t = 0; t < TARGETS; t++) {
    const listId = `target-${t}`;
    await store.append({ aggregateType: "TodoList", aggregateId: listId, expectedSequence: 0, commandId: randomUUID(), events: [event("todo.v1.TodoListCreated", TodoListCreated, { listId, name: listId })] });
  }
  let next = 0;
  const worker = async () => {
    while (next < moves) {
      const n = next++;
      const listId = `source-${n}`;
      const itemId = `item-${n}`;
      const transferId = `${listId}@3`;
      await store.append({
        aggregateType: "TodoList",
        aggregateId: listId,
        expectedSequence: 0,
        commandId: randomUUID(),
        events: [
          event("todo.v1.TodoListCreated", TodoListCreated, { listId, name: listId }),
          event("todo.v1.TodoItemAdded", TodoItemAdded, { listId, itemId, text: "Milk, two litres" }),
          event("todo.v1.TodoItemTransferRequested", TodoItemTransferRequested, { listId, itemId, targetListId: `target-${n % TARGETS}`, text: "Milk, two litres", transferId }),
        ],
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

/**
 * Resolves once every instance has ended: the saga steps in global order, and the last request stored is the last
 * to be moved and to end. (Reading the whole stream instead would cost the gateway's process more than the saga does.)
 */
function movesDone(store: EmbeddedEventStore, lastSource: string): Promise<void> {
  const states = new SagaStates(store, { maxStateBytes: defaultLimits.maxSagaStateBytes, maxAssociationBytes: defaultLimits.maxRoutingKeyBytes });
  return new Promise((resolve, reject) => {
    const poll = async () => {
      if ((await states.load(ITEM_TRANSFER_SAGA, `${lastSource}@3`)).ended) resolve();
      else setTimeout(() => void poll().catch(reject), 10);
    };
    void poll().catch(reject);
  });
}

async function scenario(name: string, moves: number, checkpoints: (dir: string) => string, intervalMs?: number): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "recq-bench-saga-"));
  const store = await EmbeddedEventStore.open({ directory: path.join(dir, "gateway") });
  const gateway = await Gateway.start({ catalog: loadDescriptorCatalog(readFileSync(TODO_DESCRIPTORS)), store, address: "127.0.0.1:0" });
  try {
    await fill(store, moves);
    const head = await store.headPosition();
    const lastSource = (await store.readAll(head - 1, 1))[0]!.aggregateId;
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    const done = movesDone(store, lastSource);
    const service = await startScript(path.resolve(__dirname, "servers", "saga-service.js"), [`127.0.0.1:${gateway.port}`, checkpoints(dir), ...(intervalMs === undefined ? [] : [String(intervalMs)])]);
    await done;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const serviceCpu = cpuMicros(service.child.pid!);
    const cpu = process.cpuUsage(cpuBefore);
    await service.stop();
    console.log(
      `${name.padEnd(30)} ${moves} moves in ${ms.toFixed(0).padStart(6)} ms  ${Math.round((moves / ms) * 1000).toLocaleString("en").padStart(6)} moves/s  ` +
        `${Math.round(((2 * moves) / ms) * 1000).toLocaleString("en").padStart(6)} saga events/s  ` +
        `CPU per move: gateway ${((cpu.user + cpu.system) / moves).toFixed(0)} µs, saga + aggregate process ${(serviceCpu / moves).toFixed(0)} µs`,
    );
  } finally {
    await gateway.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const moves = Number(process.argv[2] ?? 1_000);
  console.log(`${moves.toLocaleString("en")} moves waiting per run (start of the service included); node ${process.version}; 2 shared cores: figures vary run to run`);
  await scenario("file, written per event (0)", moves, (dir) => path.join(dir, "checkpoints"), 0);
  await scenario("file, coalesced (default)", moves, (dir) => path.join(dir, "checkpoints"));
  await scenario("checkpoint in memory", moves, () => "memory");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
