// Telemetry first: the tracer provider and propagator are registered before anything traces, and the MongoDB
// instrumentation before the driver loads.
import { startTelemetry } from "@recq-mesh/kit/telemetry";
const telemetry = startTelemetry("recq-todo", undefined, { instrumentMongoDB: Boolean(process.env.MONGODB_URI?.trim()) });

import { FileCheckpointStore, GenerationalViewStore, jsonLogger, linkSecurityFromEnv, MeshService, openBlobStore, openViewStore, TracedViewStore, ViewStoreCheckpoints } from "@recq-mesh/kit";
import { notificationService } from "./src/notification-service";
import { todoNotifier } from "./src/todo-notifier";
import { itemTransferSaga } from "./src/item-transfer-saga";
import { todoAttachmentAggregate } from "./src/todo-attachment-aggregate";
import { todoAttachmentQueries } from "./src/todo-attachment-queries";
import { loadTodoConfig, TODO_BLOB_FOLDER, TODO_DATABASE } from "./src/todo-config";
import { todoListAggregate } from "./src/todo-list-aggregate";
import { TODO_LIST_PROJECTION, todoListProjection } from "./src/todo-list-projection";
import { todoListQueries } from "./src/todo-list-queries";

async function main(): Promise<void> {
  const logger = jsonLogger("todo");
  const config = loadTodoConfig(process.env);
  // Attachments: written by the commands role, read by the views role; both must open the same store (a shared
  // RECQ_BLOB_DIR, or the MongoDB database's GridFS bucket).
  const blobs = await openBlobStore(process.env, { defaultDatabase: TODO_DATABASE, appName: "recq-todo", defaultFolder: TODO_BLOB_FOLDER });
  // TLS and the link token (RECQ_TLS_*, RECQ_LINK_TOKEN_FILE or RECQ_LINK_TOKEN): docs/security.md.
  const { tls, credentials } = linkSecurityFromEnv(process.env);
  const mesh = new MeshService({ address: config.gateway, component: "todo", credentials, tls, logger, catchUpTimeoutMs: config.catchUpTimeoutMs, blobs });
  if (config.roles.has("commands")) mesh.addAggregate(todoListAggregate).addAggregate(todoAttachmentAggregate({ maxAttachmentBytes: config.maxAttachmentBytes }));
  const views = await openViewStore(process.env, { defaultDatabase: TODO_DATABASE, appName: "recq-todo" });
  if (config.roles.has("commands")) {
    // Notifications (the service that delivers them, the observer that sends them) and the item-transfer saga, each
    // from its own checkpoint — in the shared view store on MongoDB, in a folder of this process's disk on the
    // embedded setup (the saga's state itself is the gateway's).
    const checkpoints = views.scope === "shared" ? new ViewStoreCheckpoints(views.store) : await FileCheckpointStore.open(config.checkpointFolder);
    mesh.addService(notificationService({ webhookUrl: config.notificationWebhookUrl, timeoutMs: config.notificationTimeoutMs, logger }));
    mesh.addObserver(todoNotifier(checkpoints), { checkpointCoalescing: config.checkpointCoalescing });
    mesh.addSaga(itemTransferSaga(checkpoints), { checkpointCoalescing: config.checkpointCoalescing });
  }
  // In generations, so that the projection can be rebuilt while its queries read it (ProjectionAdminService).
  const generations = await GenerationalViewStore.open(views.store, TODO_LIST_PROJECTION);
  const projection = todoListProjection(generations, views.scope);
  if (config.roles.has("views")) {
    const traced = new TracedViewStore(generations);
    mesh.addProjection(projection).addQueries(todoListQueries(traced, projection));
    mesh.addQueries(todoAttachmentQueries(traced, blobs, projection, { downloadChunkBytes: config.downloadChunkBytes }));
  }
  const stop = (signal: string) => {
    logger.info("draining", { signal });
    void mesh
      .drain()
      .then(() => generations.close())
      .then(() => blobs.close())
      .then(() => telemetry.shutdown())
      .then(() => process.exit(0));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // Ready to stop before the start ends: the queries may wait a while for the views to catch up.
  await mesh.start();
  logger.info("todo service linked", { gateway: config.gateway, roles: [...config.roles], instance: mesh.instanceId, ...views.location });
}

main().catch((error: unknown) => {
  process.stderr.write(`todo service failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
