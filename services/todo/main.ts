// Telemetry first: the tracer provider and propagator are registered before anything traces.
import { startTelemetry } from "../kit/src/telemetry/start-telemetry";
const telemetry = startTelemetry("recq-todo");

import { jsonLogger, MeshService } from "../kit";
import { EmbeddedViewStore } from "../kit/src/views/embedded-view-store";
import { TracedViewStore } from "../kit/src/views/traced-view-store";
import { loadTodoConfig } from "./src/todo-config";
import { todoListAggregate } from "./src/todo-list-aggregate";
import { todoListProjection } from "./src/todo-list-projection";
import { todoListQueries } from "./src/todo-list-queries";

async function main(): Promise<void> {
  const logger = jsonLogger("todo");
  const config = loadTodoConfig(process.env);
  if (process.env.MONGODB_URI) {
    throw new Error("MONGODB_URI is set, but this build of the TodoList service has only the embedded view store; unset it to use the embedded store");
  }
  const mesh = new MeshService({ address: config.gateway, component: "todo", credentials: config.linkToken, logger });
  if (config.roles.has("commands")) mesh.addAggregate(todoListAggregate);
  // Embedded views live in this process: the projection and the queries reading it must run here together.
  const views = new EmbeddedViewStore();
  const projection = todoListProjection(views, "instance");
  if (config.roles.has("views")) mesh.addProjection(projection).addQueries(todoListQueries(new TracedViewStore(views), projection));
  await mesh.start();
  logger.info("todo service linked", { gateway: config.gateway, roles: [...config.roles], instance: mesh.instanceId });
  const stop = (signal: string) => {
    logger.info("draining", { signal });
    void mesh
      .drain()
      .then(() => views.close())
      .then(() => telemetry.shutdown())
      .then(() => process.exit(0));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`todo service failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
