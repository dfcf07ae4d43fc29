/* eslint-disable @typescript-eslint/no-require-imports -- the MongoDB driver is loaded only when MONGODB_URI is set */
import { mongoCommitTimeoutFrom, mongoSettingsFrom } from "@recq-mesh/protocol";
import { EmbeddedViewStore } from "./embedded-view-store";
import type { ViewStore } from "./view-store";

export interface OpenedViewStore {
  store: ViewStore;
  /**
   * `shared`: every instance reads and writes one MongoDB view store, so they form one projection (one consumer
   * name; the gateway feeds one instance and keeps the others as standbys). `instance`: the views live in this
   * process's memory, so each process is its own projection.
   */
  scope: "shared" | "instance";
  /** Where the views live, for a start banner: never the URI, which may hold credentials. */
  location: { views: "mongodb"; database: string } | { views: "embedded" };
}

export interface OpenViewStoreOptions {
  /** The database when `RECQ_MONGODB_DATABASE` is unset: the service's own, apart from the gateway's. */
  defaultDatabase: string;
  /** The application name the MongoDB client reports to the server (its logs, `currentOp`). */
  appName: string;
}

/**
 * The view store the environment asks for: MongoDB when `MONGODB_URI` is set (database `RECQ_MONGODB_DATABASE`,
 * else `defaultDatabase`), otherwise the embedded store in memory, rebuilt by replay on each start. The MongoDB
 * store owns its client and closes it with itself. The driver is loaded only on the MongoDB path: it takes
 * ~200 ms to load, and it must load after telemetry started so that its instrumentation sees it.
 */
export async function openViewStore(env: NodeJS.ProcessEnv, options: OpenViewStoreOptions): Promise<OpenedViewStore> {
  const mongo = mongoSettingsFrom(env, options.defaultDatabase);
  if (mongo === undefined) return { store: new EmbeddedViewStore(), scope: "instance", location: { views: "embedded" } };
  // RECQ_MONGODB_COMMIT_TIMEOUT_MS, checked before connecting.
  const commitTimeoutMs = mongoCommitTimeoutFrom(env);
  // require, not import(): a CommonJS load, the same module instance whoever loads it, and one the MongoDB
  // instrumentation's require hook sees.
  const { connectMongo } = require("@recq-mesh/protocol/mongodb") as typeof import("@recq-mesh/protocol/mongodb");
  const { MongoViewStore } = require("./mongo-view-store") as typeof import("./mongo-view-store");
  const client = await connectMongo(mongo, options.appName);
  try {
    const store = await MongoViewStore.open({ client, database: mongo.database, closeClient: true, commitTimeoutMs });
    return { store, scope: "shared", location: { views: "mongodb", database: mongo.database } };
  } catch (error: unknown) {
    await client.close();
    throw error;
  }
}
