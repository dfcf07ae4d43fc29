// `npm run bench:subscribe-events [-- <events>]`: what clients' event subscriptions (recq.v1.EventService) cost the
// gateway. A gateway runs in this process on an embedded store filled with TodoItemAdded events (default 100,000,
// about 60 bytes each, over 1,000 aggregates); clients in a child process subscribe from position 0 and read until
// caught up. For each scenario it prints the events delivered per second and the gateway's CPU per event examined
// (this process's CPU; the clients run apart). Scenarios: one subscriber to everything; ten at once; one whose
// filter matches nothing (the scan alone, a progress message every RECQ_EVENT_READ_BATCH events).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { EmbeddedEventStore, Gateway, loadDescriptorCatalog } from "@recq-mesh/gateway";
import { EventServiceClient, type SubscribeEventsResponse } from "@recq-mesh/protocol/gen/recq/v1/event_service";
import { TodoItemAdded } from "@recq-mesh/todo/gen/todo/v1/events";
import { TODO_DESCRIPTORS } from "../test/support/built-packages";
import { startScript } from "./lib/processes";

const AGGREGATES = 1_000;
const IN_FLIGHT = 256;

/** The client side, in its own process: `client <address> <subscriptions> <event type or "">`. */
async function client(address: string, subscriptions: number, eventType: string): Promise<void> {
  const events = new EventServiceClient(address, credentials.createInsecure(), { "grpc.max_receive_message_length": -1 });
  process.stdout.write("ready\n");
  const started = process.hrtime.bigint();
  const counts = await Promise.all(
    Array.from(
      { length: subscriptions },
      () =>
        new Promise<number>((resolve, reject) => {
          let received = 0;
          const call = events.subscribeEvents({ afterPosition: "0", eventTypes: eventType ? [eventType] : [], aggregateType: "", aggregateId: "" });
          call.on("data", (response: SubscribeEventsResponse) => {
            if (response.message?.$case === "event") received += 1;
            else if (response.message?.$case === "progress" && response.message.value.caughtUp) {
              call.cancel();
              resolve(received);
            }
          });
          call.on("error", (error: { code: number }) => (error.code === 1 ? undefined : reject(error)));
        }),
    ),
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`done ${counts.reduce((a, b) => a + b, 0)} ${ms.toFixed(0)}\n`);
  events.close();
}

async function fill(store: EmbeddedEventStore, total: number): Promise<void> {
  const sequences = new Array<number>(AGGREGATES).fill(0);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const n = next++;
      const aggregate = n % AGGREGATES;
      const listId = `list-${aggregate}`;
      const payload = Buffer.from(TodoItemAdded.encode({ listId, itemId: `item-${n}`, text: "Milk, two litres" }).finish());
      await store.append({
        aggregateType: "TodoList",
        aggregateId: listId,
        expectedSequence: sequences[aggregate]!++,
        commandId: randomUUID(),
        events: [{ type: "todo.v1.TodoItemAdded", payload, metadata: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } }],
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

async function scenario(name: string, address: string, subscriptions: number, eventType: string, total: number): Promise<void> {
  const script = path.resolve(__dirname, "event-subscriptions.js");
  const started = await startScript(script, ["client", address, String(subscriptions), eventType], {}, /ready/);
  const cpuBefore = process.cpuUsage();
  const done = await new Promise<string>((resolve, reject) => {
    let output = "";
    started.child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split("\n").find((l) => l.startsWith("done "));
      if (line) resolve(line);
    });
    started.child.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`client exited ${code}: ${output}`))));
  });
  const cpu = process.cpuUsage(cpuBefore);
  await started.stop();
  const [, delivered, ms] = done.split(" ").map(Number) as [number, number, number];
  const examined = total * subscriptions;
  const cpuMicros = cpu.user + cpu.system;
  console.log(
    `${name.padEnd(34)} ${String(delivered).padStart(9)} events delivered in ${String(ms).padStart(6)} ms  ` +
      `${Math.round((delivered / ms) * 1000).toLocaleString("en").padStart(9)} events/s  ` +
      `${(cpuMicros / examined).toFixed(2).padStart(6)} µs gateway CPU per event examined`,
  );
}

async function main(): Promise<void> {
  if (process.argv[2] === "client") return client(process.argv[3]!, Number(process.argv[4]), process.argv[5] ?? "");
  const total = Number(process.argv[2] ?? 100_000);
  const dir = await mkdtemp(path.join(tmpdir(), "recq-bench-events-"));
  const store = await EmbeddedEventStore.open({ directory: dir });
  const gateway = await Gateway.start({ catalog: loadDescriptorCatalog(readFileSync(TODO_DESCRIPTORS)), store, address: "127.0.0.1:0" });
  const address = `127.0.0.1:${gateway.port}`;
  try {
    const filling = Date.now();
    await fill(store, total);
    console.log(`${total.toLocaleString("en")} events stored in ${Date.now() - filling} ms; node ${process.version}; figures vary run to run on a shared machine`);
    await scenario("one subscriber, every event", address, 1, "", total);
    await scenario("ten subscribers, every event", address, 10, "", total);
    await scenario("one subscriber, a filter matching none", address, 1, "todo.v1.TodoItemCompleted", total);
    const rss = Math.round(process.memoryUsage().rss / 1024 / 1024);
    console.log(`gateway process RSS after the runs: ${rss} MiB`);
  } finally {
    await gateway.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
