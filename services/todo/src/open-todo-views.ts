import type { ViewStore } from "../../kit";
import { mongoSettingsFrom } from "../../kit/src/mongo/mongo-settings";
import { EmbeddedViewStore } from "../../kit/src/views/embedded-view-store";

/** The TodoList service's database when `RECQ_MONGODB_DATABASE` is unset: its own, apart from the gateway's. */
export const TODO_DATABASE = "recq_todo";

export interface TodoViews {
  store: ViewStore;
  /**
   * `shared`: every instance reads and writes one MongoDB view store, so they form one projection (one consumer
   * name; the gateway feeds one instance and keeps the others as standbys). `instance`: the views live in this
   * process's memory, so each process is its own projection.
   */
  scope: "shared" | "instance";
  /** Where the views live, for the start banner: never the URI, which may hold credentials. */
  location: { views: "mongodb"; database: string } | { views: "embedded" };
}

/**
 * The view store the configuration asks for: MongoDB when `MONGODB_URI` is set (database
 * `RECQ_MONGODB_DATABASE`, default `recq_todo`), otherwise the embedded store in memory, rebuilt by replay on each
 * start. The store owns the MongoDB client and closes it with itself.
 */
export async function openTodoViews(env: NodeJS.ProcessEnv): Promise<TodoViews> {
  const mongo = mongoSettingsFrom(env, TODO_DATABASE);
  if (mongo === undefined) return { store: new EmbeddedViewStore(), scope: "instance", location: { views: "embedded" } };
  // Loaded only on this path: the driver takes ~200 ms to load, and it must load after telemetry started.
  const { connectMongo } = await import("../../kit/src/mongo/mongo-client");
  const { MongoViewStore } = await import("../../kit/src/views/mongo-view-store");
  const client = await connectMongo(mongo, "recq-todo");
  try {
    const store = await MongoViewStore.open({ client, database: mongo.database, closeClient: true });
    return { store, scope: "shared", location: { views: "mongodb", database: mongo.database } };
  } catch (error: unknown) {
    await client.close();
    throw error;
  }
}
