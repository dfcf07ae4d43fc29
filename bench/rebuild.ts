// `npm run bench:rebuild [-- lists items]`: rebuild speed of the TodoList projection. A gateway process on a fresh
// embedded store; the TodoList service (aggregate, projection in generations, queries) in this process. Seeds `lists`
// lists of `items` items each (default 2,000 × 9: 20,000 events), then asks ProjectionAdminService to rebuild the
// projection and polls GetProjection every 20 ms. Prints:
// - the replay: events per second from the request until the new generation reflected the head;
// - the whole rebuild: request → COMPLETED (replay, the switch, the old generation dropped);
// - the first catch-up of the same projection at start, for comparison (a fresh service replaying the same events).
// Nothing else runs meanwhile. Asserts nothing.
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { ProjectionAdminServiceClient, RebuildState, type ProjectionStatus } from "@recq-mesh/protocol/gen/recq/v1/projections";
import { TodoListCommandServiceClient } from "@recq-mesh/todo/gen/todo/v1/commands";
import { GATEWAY_MAIN, TODO_DESCRIPTORS } from "../test/support/built-packages";
import { startRebuildableTodo } from "../test/support/rebuild-harness";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startScript } from "./lib/processes";
import { nowMs, round } from "./lib/stats";

const [lists = 2_000, items = 9] = process.argv.slice(2).map(Number);
const SEED_CONCURRENCY = 50;

function unary<T>(send: (callback: (error: ServiceError | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => send((error, value) => (error ? reject(error) : resolve(value))));
}

async function seed(commands: TodoListCommandServiceClient): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let list = next++; list < lists; list = next++) {
      const listId = `list-${list}`;
      await unary((cb) => commands.createTodoList({ listId, name: `List ${list}` }, cb));
      for (let item = 0; item < items; item++) await unary((cb) => commands.addTodoItem({ listId, itemId: `i${item}`, text: `Item ${item}` }, cb));
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
}

async function status(admin: ProjectionAdminServiceClient, projection: string): Promise<ProjectionStatus> {
  return (await unary<{ projection?: ProjectionStatus }>((cb) => admin.getProjection({ projection }, cb))).projection!;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "recq-bench-rebuild-"));
  const gateway = await startScript(GATEWAY_MAIN, ["--address", "127.0.0.1:0", "--data-dir", dataDir, "--descriptors", TODO_DESCRIPTORS], { RECQ_LOG_LEVEL: "info" }, /"message":"gateway ready"/);
  const address = `127.0.0.1:${Number(/"port":(\d+)/.exec(gateway.line)![1])}`;
  const commands = new TodoListCommandServiceClient(address, credentials.createInsecure());
  const admin = new ProjectionAdminServiceClient(address, credentials.createInsecure());
  const writer = await startRebuildableTodo(address, { instanceId: "writer", roles: ["commands"] });
  try {
    const seedStarted = nowMs();
    await seed(commands);
    const events = lists * (items + 1);
    console.log(`seeded ${events} events (${lists} lists × ${items} items) in ${round((nowMs() - seedStarted) / 1000, 1)} s`);

    const catchUpStarted = nowMs();
    const todo = await startRebuildableTodo(address, { instanceId: "views", roles: ["views"] });
    const catchUpMs = nowMs() - catchUpStarted;

    const requested = nowMs();
    await unary((cb) => admin.rebuildProjection({ projection: todo.consumer }, cb));
    let replayedMs: number | undefined;
    for (;;) {
      const found = await status(admin, todo.consumer);
      const rebuild = found.rebuild!;
      if (replayedMs === undefined && Number(rebuild.position) >= events) replayedMs = nowMs() - requested;
      if (rebuild.state === RebuildState.REBUILD_STATE_COMPLETED) break;
      if (rebuild.state === RebuildState.REBUILD_STATE_ABANDONED) throw new Error(`rebuild abandoned: ${rebuild.message}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const completedMs = nowMs() - requested;
    replayedMs ??= completedMs;
    console.log("");
    console.log("| rebuild of the TodoList projection (embedded views) | measured |");
    console.log("|---|---|");
    console.log(`| replay into the new generation, request → head | ${round(replayedMs / 1000, 2)} s, ${Math.round(events / (replayedMs / 1000))} events/s |`);
    console.log(`| whole rebuild, request → switched, old generation dropped | ${round(completedMs / 1000, 2)} s, ${Math.round(events / (completedMs / 1000))} events/s |`);
    console.log(`| first catch-up of a fresh instance (start → queries served) | ${round(catchUpMs / 1000, 2)} s, ${Math.round(events / (catchUpMs / 1000))} events/s |`);
    await todo.mesh.drain();
  } finally {
    commands.close();
    admin.close();
    await writer.mesh.drain();
    await gateway.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
