// `npm run bench:events`: what the gateway's check of a handler's events costs (HandlerEventCheck decodes each
// payload once before anything is stored), per event, for the TodoList's events and its snapshot.
import { readFileSync } from "node:fs";
import { loadDescriptorCatalog } from "@recq-mesh/gateway";
import { HandlerEventCheck } from "@recq-mesh/gateway/internal/commands/handler-event-check";
import { TodoItemAdded, TodoListState } from "@recq-mesh/todo/gen/todo/v1/events";
import type { CommandOutcome } from "@recq-mesh/protocol/gen/recq/v1/link";
import { TODO_DESCRIPTORS } from "../test/support/built-packages";

const check = new HandlerEventCheck(loadDescriptorCatalog(readFileSync(TODO_DESCRIPTORS)).registry);

function itemAdded(): CommandOutcome {
  const payload = Buffer.from(TodoItemAdded.encode({ listId: "groceries", itemId: "milk", text: "Milk, two litres" }).finish());
  return { events: [{ type: "todo.v1.TodoItemAdded", payload, metadata: {} }] };
}

function snapshotOf(items: number): CommandOutcome {
  const state = TodoListState.fromPartial({
    listId: "groceries",
    name: "Groceries",
    items: Array.from({ length: items }, (_, i) => ({ itemId: `item-number-${i}`, completed: i % 2 === 0 })),
  });
  return { events: [], snapshot: { sequence: "100", type: "todo.v1.TodoListState", payload: Buffer.from(TodoListState.encode(state).finish()) } };
}

/** Microseconds per check, the median of five rounds of `iterations` checks each. */
function measure(outcome: CommandOutcome, iterations: number): number {
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) check.check("bench", outcome);
    rounds.push(Number(process.hrtime.bigint() - started) / 1000 / iterations);
  }
  return rounds.sort((a, b) => a - b)[2]!;
}

const cases: [string, CommandOutcome, number][] = [
  ["one TodoItemAdded event", itemAdded(), 200_000],
  ["a snapshot of 20 items", snapshotOf(20), 50_000],
  ["a snapshot of 1,000 items", snapshotOf(1_000), 2_000],
];
for (const [name, outcome, iterations] of cases) {
  // Warm up, so the figure is the steady state the gateway runs in.
  measure(outcome, Math.ceil(iterations / 10));
  const bytes = outcome.events.reduce((sum, e) => sum + e.payload.length, outcome.snapshot?.payload.length ?? 0);
  console.log(`${name.padEnd(28)} ${String(bytes).padStart(7)} bytes  ${measure(outcome, iterations).toFixed(2).padStart(8)} µs per check`);
}
