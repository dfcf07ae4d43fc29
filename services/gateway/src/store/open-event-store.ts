/* eslint-disable @typescript-eslint/no-require-imports -- the MongoDB driver is loaded only when MONGODB_URI is set */
import { type Logger, mongoSettingsFrom } from "@recq-mesh/protocol";
import type { GatewayConfig } from "../config";
import { EmbeddedEventStore } from "./embedded-event-store";
import type { EventStore } from "./event-store";

/** The gateway's database when `RECQ_MONGODB_DATABASE` is unset. */
export const GATEWAY_DATABASE = "recq";

export interface OpenedEventStore {
  store: EventStore;
  /** Where the state lives, for the start banner: never the URI, which may hold credentials. */
  location: { store: "mongodb"; database: string } | { store: "embedded"; dataDir: string };
}

/**
 * The System State Store the configuration asks for: MongoDB when `MONGODB_URI` is set (database
 * `RECQ_MONGODB_DATABASE`, default `recq`), otherwise the embedded journal in the data folder. Either way the
 * gateway's limits apply. The store owns the MongoDB client and closes it with itself.
 */
export async function openEventStore(config: GatewayConfig, env: NodeJS.ProcessEnv, logger: Logger): Promise<OpenedEventStore> {
  const shared = {
    outcomeRetentionMs: config.limits.outcomeRetentionMs,
    maxEventsPerAppend: config.limits.maxEventsPerCommand,
    maxPayloadBytes: config.limits.maxEventBytes,
    logger,
  };
  const mongo = mongoSettingsFrom(env, GATEWAY_DATABASE);
  if (mongo === undefined) {
    const store = await EmbeddedEventStore.open({ directory: config.dataDir, cacheBytes: config.limits.storeCacheBytes, ...shared });
    return { store, location: { store: "embedded", dataDir: config.dataDir } };
  }
  // Loaded only on this path: the driver takes ~200 ms to load, and it must load after telemetry started.
  // require, not import(): a CommonJS load, the same module instance whoever loads it, and one the MongoDB
  // instrumentation's require hook sees.
  const { connectMongo } = require("@recq-mesh/protocol/mongodb") as typeof import("@recq-mesh/protocol/mongodb");
  const { MongoEventStore } = require("./mongo-event-store") as typeof import("./mongo-event-store");
  const client = await connectMongo(mongo, "recq-gateway");
  try {
    const store = await MongoEventStore.open({
      client,
      database: mongo.database,
      closeClient: true,
      commitTimeoutMs: config.limits.mongoCommitTimeoutMs,
      ...shared,
    });
    return { store, location: { store: "mongodb", database: mongo.database } };
  } catch (error: unknown) {
    await client.close();
    throw error;
  }
}
