/* eslint-disable @typescript-eslint/no-require-imports -- the MongoDB driver is loaded only when MONGODB_URI is set */
import { type Logger, mongoSettingsFrom } from "@recq-mesh/protocol";
import type { GatewayConfig } from "../config";
import type { CommandInbox } from "../accepted/command-inbox";
import { EmbeddedCommandInbox } from "../accepted/embedded-command-inbox";
import { EmbeddedParkedEventStore } from "../consumers/dead-events/embedded-parked-event-store";
import type { ParkedEventStore } from "../consumers/dead-events/parked-event-store";
import { EmbeddedEventStore } from "./embedded-event-store";
import type { EventStore } from "./event-store";

/** The gateway's database when `RECQ_MONGODB_DATABASE` is unset. */
export const GATEWAY_DATABASE = "recq";

export interface OpenedEventStore {
  store: EventStore;
  /** The accepted-command inbox beside it: a file in the same data folder, or a collection in the same database. */
  inbox: CommandInbox;
  /** The dead-event queue's parked events beside it: a file in the same data folder, or a collection in the same database. */
  parkedEvents: ParkedEventStore;
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
    try {
      const inbox = await EmbeddedCommandInbox.open({ directory: config.dataDir, logger });
      const parkedEvents = await EmbeddedParkedEventStore.open({ directory: config.dataDir, logger }).catch(async (error: unknown) => {
        await inbox.close();
        throw error;
      });
      return { store, inbox, parkedEvents, location: { store: "embedded", dataDir: config.dataDir } };
    } catch (error: unknown) {
      await store.close();
      throw error;
    }
  }
  // Loaded only on this path: the driver takes ~200 ms to load, and it must load after telemetry started.
  // require, not import(): a CommonJS load, the same module instance whoever loads it, and one the MongoDB
  // instrumentation's require hook sees.
  const { connectMongo } = require("@recq-mesh/protocol/mongodb") as typeof import("@recq-mesh/protocol/mongodb");
  const { MongoEventStore } = require("./mongo-event-store") as typeof import("./mongo-event-store");
  const { MongoCommandInbox } = require("../accepted/mongo-command-inbox") as typeof import("../accepted/mongo-command-inbox");
  const { MongoParkedEventStore } = require("../consumers/dead-events/mongo-parked-event-store") as typeof import("../consumers/dead-events/mongo-parked-event-store");
  const client = await connectMongo(mongo, "recq-gateway");
  try {
    const store = await MongoEventStore.open({
      client,
      database: mongo.database,
      closeClient: true,
      commitTimeoutMs: config.limits.mongoCommitTimeoutMs,
      ...shared,
    });
    // Opened after the store, which created the database's collections; it shares the store's client.
    const inbox = await MongoCommandInbox.open({
      client,
      database: mongo.database,
      owner: config.gatewayId,
      majorityWaitMs: config.limits.mongoCommitTimeoutMs,
      logger,
    }).catch(async (error: unknown) => {
      await store.close();
      throw error;
    });
    const parkedEvents = await MongoParkedEventStore.open({ client, database: mongo.database, majorityWaitMs: config.limits.mongoCommitTimeoutMs }).catch(async (error: unknown) => {
      await inbox.close();
      await store.close();
      throw error;
    });
    return { store, inbox, parkedEvents, location: { store: "mongodb", database: mongo.database } };
  } catch (error: unknown) {
    await client.close();
    throw error;
  }
}
