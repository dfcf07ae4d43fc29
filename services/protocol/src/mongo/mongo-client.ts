import { MongoClient } from "mongodb";
import { MONGODB_URI_ENV, type MongoSettings } from "./mongo-settings";

/**
 * Connects the MongoDB client of one service process; the caller owns it. Rejects when no server answers within
 * the driver's server selection timeout (30 s unless the URI sets `serverSelectionTimeoutMS`). The stores need a
 * replica set (a single-node one will do): transactions and change streams exist only there.
 */
export async function connectMongo(settings: MongoSettings, appName: string): Promise<MongoClient> {
  const client = new MongoClient(settings.uri, { appName });
  try {
    await client.connect();
  } catch (error: unknown) {
    await client.close().catch(() => undefined);
    // The driver's message names hosts, never the URI's credentials.
    throw new Error(`could not connect to MongoDB (${MONGODB_URI_ENV}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return client;
}
