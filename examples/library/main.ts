// Telemetry first: the tracer provider and propagator are registered before anything traces, and the MongoDB
// instrumentation before the driver loads.
import { startTelemetry } from "@recq-mesh/kit/telemetry";
const telemetry = startTelemetry("recq-library", undefined, { instrumentMongoDB: Boolean(process.env.MONGODB_URI?.trim()) });

import { jsonLogger, MeshService, openViewStore, TracedViewStore } from "@recq-mesh/kit";
import { bookAggregate } from "./src/book-aggregate";
import { bookProjection } from "./src/book-projection";
import { bookQueries } from "./src/book-queries";
import { LIBRARY_DATABASE, loadLibraryConfig } from "./src/library-config";

const logger = jsonLogger("library");

async function main(): Promise<void> {
  const config = loadLibraryConfig(process.env);
  // MongoDB when MONGODB_URI is set (the views are kept, and shared by every instance), else in memory.
  const views = await openViewStore(process.env, { defaultDatabase: LIBRARY_DATABASE, appName: "recq-library" });
  const projection = bookProjection(views.store, views.scope);
  const mesh = new MeshService({ address: config.gateway, component: "library", credentials: config.linkToken, logger })
    .addAggregate(bookAggregate)
    .addProjection(projection)
    // The queries' reads are traced; the projection's writes are traced by the kit already.
    .addQueries(bookQueries(new TracedViewStore(views.store), projection));
  const stop = (signal: string) => {
    logger.info("draining", { signal });
    // Finish the work in flight before the views close under it, and flush the last spans.
    void mesh
      .drain()
      .then(() => views.store.close())
      .then(() => telemetry.shutdown())
      .then(() => process.exit(0));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // Ready to stop before the start ends: the queries wait until the projection has caught up with the events.
  await mesh.start();
  logger.info("library service linked", { gateway: config.gateway, instance: mesh.instanceId, ...views.location });
}

main().catch((error: unknown) => {
  logger.error("library service failed to start", { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
