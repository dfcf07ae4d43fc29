// `npm run bench:store [-- <sizes> [<minutes>]]`: what the embedded store's memory and restart cost as its journal
// grows. Appends TodoList-like events (one TodoItemAdded per command, a TodoListState snapshot every 100 events of
// an aggregate, a fresh UUID command id each) across 10,000 aggregates through the real EmbeddedEventStore, 256
// appends in flight; at each size (default 1,000,000 and 10,000,000 events) prints the RSS and heap (after a full
// GC), the journal's size, the append rate, the time close takes (it writes the index checkpoint), and the time
// and memory of reopening the journal in a fresh process: from the checkpoint, and by replaying the whole journal.
// Appending stops at the time bound (default 30 minutes) and reports the last size reached. BENCH_OUTCOME_RETENTION_MS
// shortens the outcomes' retention (24 h by default, which keeps every outcome of the run), to see the rest alone.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { EmbeddedEventStore } from "@recq-mesh/gateway/internal/store/embedded-event-store";
import type { AppendRequest } from "@recq-mesh/gateway/internal/store/event-store";
import { CHECKPOINT_FILE_NAME } from "@recq-mesh/gateway/internal/store/index-checkpoint";
import { TodoItemAdded, TodoListState } from "@recq-mesh/todo/gen/todo/v1/events";

const AGGREGATES = 10_000;
const OPTIONS = { outcomeRetentionMs: process.env.BENCH_OUTCOME_RETENTION_MS ? Number(process.env.BENCH_OUTCOME_RETENTION_MS) : undefined };
const IN_FLIGHT = 256;
const SNAPSHOT_EVERY = 100;

interface Memory {
  rssMiB: number;
  heapMiB: number;
  externalMiB: number;
}

function memory(): Memory {
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  collect?.();
  const usage = process.memoryUsage();
  const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  return { rssMiB: mib(usage.rss), heapMiB: mib(usage.heapUsed), externalMiB: mib(usage.external) };
}

function appendFor(aggregate: number, sequence: number): AppendRequest {
  const listId = `list-${aggregate}`;
  const itemId = `item-${sequence + 1}`;
  const payload = Buffer.from(TodoItemAdded.encode({ listId, itemId, text: `Buy ${itemId} for ${listId}` }).finish());
  const request: AppendRequest = {
    aggregateType: "todo.v1.TodoList",
    aggregateId: listId,
    expectedSequence: sequence,
    commandId: randomUUID(),
    events: [{ type: "todo.v1.TodoItemAdded", payload, metadata: {} }],
  };
  if ((sequence + 1) % SNAPSHOT_EVERY === 0) {
    const items = Array.from({ length: 20 }, (_, i) => ({ itemId: `item-${sequence - i}`, completed: i % 2 === 0 }));
    const state = TodoListState.fromPartial({ listId, name: `List ${aggregate}`, items });
    request.snapshot = { sequence: sequence + 1, type: "todo.v1.TodoListState", payload: Buffer.from(TodoListState.encode(state).finish()) };
  }
  return request;
}

/** Appends until the store holds `target` events or `deadline` passes; returns the events appended. */
async function appendUntil(store: EmbeddedEventStore, sequences: Uint32Array, target: number, deadline: number): Promise<number> {
  let next = await store.headPosition();
  const start = next;
  const worker = async (lane: number) => {
    for (let aggregate = lane; next < target && Date.now() < deadline; aggregate = (aggregate + IN_FLIGHT) % AGGREGATES) {
      next += 1;
      const result = await store.append(appendFor(aggregate, sequences[aggregate]!));
      if (result.kind !== "appended") throw new Error(`unexpected conflict on list-${aggregate}`);
      sequences[aggregate] += 1;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, lane) => worker(lane)));
  return (await store.headPosition()) - start;
}

/** Opens the journal in a fresh process: the restart time, and the memory a restarted gateway starts with. */
function reopenInChild(directory: string): { openMs: number; memory: Memory; events: number } {
  const run = spawnSync(process.execPath, ["--expose-gc", __filename, "--reopen", directory], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`reopen failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as { openMs: number; memory: Memory; events: number };
}

async function reopen(directory: string): Promise<void> {
  const started = process.hrtime.bigint();
  const store = await EmbeddedEventStore.open({ directory, ...OPTIONS });
  const openMs = Number(process.hrtime.bigint() - started) / 1e6;
  const events = await store.headPosition();
  process.stdout.write(JSON.stringify({ openMs: Math.round(openMs), memory: memory(), events }));
  await store.close();
}

async function run(sizes: number[], minutes: number): Promise<void> {
  const directory = await mkdtemp(path.join(tmpdir(), "recq-bench-store-"));
  const deadline = Date.now() + minutes * 60_000;
  const sequences = new Uint32Array(AGGREGATES);
  const retention = OPTIONS.outcomeRetentionMs === undefined ? "24 h" : `${OPTIONS.outcomeRetentionMs} ms`;
  console.log(`node ${process.version}, ${AGGREGATES} aggregates, ${IN_FLIGHT} appends in flight, outcome retention ${retention}; baseline ${JSON.stringify(memory())}`);
  try {
    for (const size of sizes) {
      const store = await EmbeddedEventStore.open({ directory, ...OPTIONS });
      const started = Date.now();
      const appended = await appendUntil(store, sequences, size, deadline);
      const seconds = (Date.now() - started) / 1000;
      const head = await store.headPosition();
      const stats = store.stats();
      const live = memory();
      const closing = Date.now();
      await store.close();
      const closeSeconds = (Date.now() - closing) / 1000;
      const checkpointBytes = (await stat(path.join(directory, CHECKPOINT_FILE_NAME))).size;
      const fromCheckpoint = reopenInChild(directory);
      await rm(path.join(directory, CHECKPOINT_FILE_NAME));
      const replayed = reopenInChild(directory);
      const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
      console.log(
        `${head.toLocaleString("en")} events: journal ${mib(stats.journalBytes)}, ` +
          `${Math.round(appended / seconds).toLocaleString("en")} events/s appending (${seconds.toFixed(0)} s), ` +
          `${stats.aggregates.toLocaleString("en")} aggregates, ${stats.outcomes.toLocaleString("en")} outcomes held; ` +
          `position index ${mib(stats.positionIndexBytes)}, outcome index ${mib(stats.outcomeIndexBytes)}, cache ${mib(stats.cachedBytes)}; ` +
          `RSS ${live.rssMiB} MiB, heap ${live.heapMiB} MiB, external ${live.externalMiB} MiB\n` +
          `  close ${closeSeconds.toFixed(1)} s (checkpoint ${mib(checkpointBytes)}); ` +
          `reopen from the checkpoint ${(fromCheckpoint.openMs / 1000).toFixed(1)} s, then RSS ${fromCheckpoint.memory.rssMiB} MiB, heap ${fromCheckpoint.memory.heapMiB} MiB; ` +
          `replaying the whole journal ${(replayed.openMs / 1000).toFixed(1)} s, then RSS ${replayed.memory.rssMiB} MiB, heap ${replayed.memory.heapMiB} MiB`,
      );
      if (head < size) {
        console.log(`stopped at the ${minutes}-minute bound before ${size.toLocaleString("en")} events`);
        break;
      }
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === "--reopen") {
  void reopen(args[1]!);
} else {
  const sizes = (args[0] ?? "1000000,10000000").split(",").map(Number);
  void run(sizes, Number(args[1] ?? 30));
}
