import { randomBytes } from "node:crypto";
import { test } from "@jest/globals";
import type { Db, MongoClient } from "mongodb";
import { noteSkipped } from "./required-tool";
import { connectMongo } from "@recq-mesh/protocol/internal/mongo/mongo-client";

/**
 * MongoDB for the test suites that need a real server: they run when MONGODB_URI is set (a replica set, since
 * the stores use transactions and change streams; a single-node one will do), each test in a fresh database
 * dropped afterwards. Without it they register one skipped test and say so on stderr.
 */
export const MONGODB_URI = process.env.MONGODB_URI?.trim() || undefined;

/** True when MONGODB_URI is set; otherwise registers `<suite>: skipped: MONGODB_URI is not set` and says so on stderr. */
export function mongoTestsEnabled(suite: string): boolean {
  if (MONGODB_URI !== undefined) return true;
  const why = "MONGODB_URI is not set";
  // The one skip CI allows too: no MongoDB server can run on these machines.
  noteSkipped(`${suite}: ${why} (set it to a MongoDB replica set, e.g. mongodb://127.0.0.1:27017/?replicaSet=rs0, to run it)`);
  test.skip(`${suite}: skipped: ${why}`, () => undefined);
  return false;
}

export interface TestDatabase {
  name: string;
  db: Db;
  drop(): Promise<void>;
}

/** One client for a test file, connected on first use, and fresh databases on it. */
export class MongoTestServer {
  private connecting: Promise<MongoClient> | undefined;

  client(): Promise<MongoClient> {
    if (MONGODB_URI === undefined) throw new Error("MONGODB_URI is not set");
    this.connecting ??= connectMongo({ uri: MONGODB_URI, database: "admin" }, "recq-tests");
    return this.connecting;
  }

  /** A database no other test uses: `recq_test_<prefix>_<random>`. */
  async freshDatabase(prefix: string): Promise<TestDatabase> {
    const client = await this.client();
    const name = `recq_test_${prefix}_${randomBytes(5).toString("hex")}`.slice(0, 63);
    const db = client.db(name);
    return { name, db, drop: () => db.dropDatabase().then(() => undefined) };
  }

  /** Closes the client; one that never connected is nothing to close (each test has reported that failure). */
  async close(): Promise<void> {
    const connecting = this.connecting;
    this.connecting = undefined;
    const client = await connecting?.catch(() => undefined);
    await client?.close();
  }
}
