// `npm run bench:accepted [-- commands concurrency sample-every]`: accepted commands (`recq-mode: async`) through a
// gateway process on its embedded store, executed by the real TodoList handler in a process of its own. Prints:
// - acceptances per second: AddTodoItem sent with `recq-mode: async` by `concurrency` callers (default 50), each
//   sending the next once the last was acknowledged, `commands` in all (default 10,000), over 200 lists;
// - the acceptance call's latency (p50/p99), as the caller sees it;
// - acceptance → final outcome (p50/p99): for every `sample-every`-th command (default 5), a WatchOutcome opened
//   before the command is sent; the time from its ack to the SUCCEEDED the watch delivers;
// - the drain: from the first acceptance until every command has executed, and the executions per second that makes.
// Execution runs while acceptances arrive: both share the gateway's one thread. Asserts nothing.
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { CommandOutcomeServiceClient, OutcomeState, type Outcome } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { TodoListCommandServiceClient } from "@recq-mesh/todo/gen/todo/v1/commands";
import { startMesh } from "./lib/mesh";
import { cpuMicros } from "./lib/processes";
import { latency, nowMs, round } from "./lib/stats";

const [commandCount = 10_000, concurrency = 50, sampleEvery = 5] = process.argv.slice(2).map(Number);
const LISTS = 200;

function metadata(values: Record<string, string>): Metadata {
  const md = new Metadata();
  for (const [key, value] of Object.entries(values)) md.set(key, value);
  return md;
}

function unary<T>(send: (callback: (error: ServiceError | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => send((error, value) => (error ? reject(error) : resolve(value))));
}

/** Resolves with the time (ms) the watch delivered the final outcome, and that outcome. */
function watchFinal(client: CommandOutcomeServiceClient, commandId: string): Promise<{ at: number; outcome: Outcome }> {
  return new Promise((resolve, reject) => {
    const stream = client.watchOutcome({ commandId }, new Metadata(), { deadline: Date.now() + 600_000 });
    stream.on("data", (response: { outcome?: Outcome }) => {
      const outcome = response.outcome!;
      if (outcome.state === OutcomeState.OUTCOME_STATE_SUCCEEDED || outcome.state === OutcomeState.OUTCOME_STATE_FAILED) resolve({ at: nowMs(), outcome });
    });
    stream.on("error", reject);
  });
}

async function main(): Promise<void> {
  const mesh = await startMesh("todo");
  const commands = new TodoListCommandServiceClient(mesh.address, credentials.createInsecure());
  const outcomes = new CommandOutcomeServiceClient(mesh.address, credentials.createInsecure());
  try {
    for (let list = 0; list < LISTS; list++) {
      await unary((cb) => commands.createTodoList({ listId: `list-${list}`, name: "Bench" }, cb));
    }
    const gatewayCpu = cpuMicros(mesh.gateway.child.pid!);
    const acceptLatencies: number[] = [];
    const toFinal: number[] = [];
    const sampled: Promise<void>[] = [];
    let failures = 0;
    let next = 0;
    const started = nowMs();
    const worker = async () => {
      for (let n = next++; n < commandCount; n = next++) {
        const commandId = `accepted-${n}`;
        const watch = n % sampleEvery === 0 ? watchFinal(outcomes, commandId) : undefined;
        // Opened before the command is sent: give the watch a moment to reach the gateway.
        if (watch !== undefined) await new Promise((resolve) => setImmediate(resolve));
        const sent = nowMs();
        try {
          await unary((cb) =>
            commands.addTodoItem({ listId: `list-${n % LISTS}`, itemId: `item-${n}`, text: "bench" }, metadata({ "recq-mode": "async", "recq-command-id": commandId }), cb),
          );
        } catch {
          failures += 1;
          continue;
        }
        const acked = nowMs();
        acceptLatencies.push(acked - sent);
        if (watch !== undefined) sampled.push(watch.then(({ at }) => void toFinal.push(at - acked)));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    const acceptSeconds = (nowMs() - started) / 1000;
    // The last command of each list runs last in its list: when every one of them has succeeded, all have.
    for (let list = 0; list < LISTS; list++) {
      const last = commandCount - 1 - ((commandCount - 1 - list) % LISTS);
      for (;;) {
        const { outcome } = await unary<{ outcome?: Outcome }>((cb) => outcomes.getOutcome({ commandId: `accepted-${last}` }, cb));
        if (outcome?.state === OutcomeState.OUTCOME_STATE_SUCCEEDED) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    const drainSeconds = (nowMs() - started) / 1000;
    await Promise.all(sampled);
    const accepted = acceptLatencies.length;
    const acceptance = latency(acceptLatencies);
    const final = latency(toFinal);
    console.log(`accepted commands: ${accepted} AddTodoItem, ${concurrency} callers, ${LISTS} lists, ${failures} failed; embedded store, TodoList handler`);
    console.log(`  acceptances/s                 ${round(accepted / acceptSeconds, 1)}`);
    console.log(`  acceptance call (ms)          p50 ${acceptance.p50Ms}  p99 ${acceptance.p99Ms}  max ${acceptance.maxMs}`);
    console.log(`  acceptance → final (ms)       p50 ${final.p50Ms}  p99 ${final.p99Ms}  max ${final.maxMs}  (${final.count} watched)`);
    console.log(`  all executed after (s)        ${round(drainSeconds, 2)}  (${round(accepted / drainSeconds, 1)} executed/s)`);
    console.log(`  gateway CPU per command (µs)  ${round((cpuMicros(mesh.gateway.child.pid!) - gatewayCpu) / accepted, 1)}  (acceptance, watch and execution)`);
  } finally {
    commands.close();
    outcomes.close();
    await mesh.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
