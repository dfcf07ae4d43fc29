import type { Collection, MongoClient } from "mongodb";
import { serverCode, ServerCode } from "@recq-mesh/protocol/mongodb";
import { DEFAULT_MAJORITY_WAIT_MS, majorityDatabase } from "../../store/mongo-majority-database";
import type { ParkedEntry, ParkedEventStore } from "./parked-event-store";

export const PARKED_COLLECTION = "parkedEvents";

interface ParkedDocument {
  /** `consumer` NUL `position`: one document per parked event of a consumer. */
  _id: string;
  consumer: string;
  position: number;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  error: string;
  attempts: number;
  parkedAt: Date;
}

export interface MongoParkedEventStoreOptions {
  client: MongoClient;
  /** The event store's database. */
  database: string;
  /** How long a write waits for a majority before it fails (RECQ_MONGODB_COMMIT_TIMEOUT_MS). Default 10 s. */
  majorityWaitMs?: number;
}

/**
 * The MongoDB parked-event store: one document per parked event in `parkedEvents`, written and read with majority
 * concern (a parking acknowledged by a primary alone could be rolled back by a failover while the consumer's
 * checkpoint has already moved past the event: it would be lost), the wait for a majority bounded
 * (`majorityDatabase`). Parking is an upsert with `$setOnInsert`, so a repeat keeps the first entry.
 */
export class MongoParkedEventStore implements ParkedEventStore {
  private constructor(private readonly collection: Collection<ParkedDocument>) {}

  static async open(options: MongoParkedEventStoreOptions): Promise<MongoParkedEventStore> {
    const db = majorityDatabase(options.client, options.database, options.majorityWaitMs ?? DEFAULT_MAJORITY_WAIT_MS);
    try {
      await db.createCollection(PARKED_COLLECTION);
    } catch (error: unknown) {
      if (serverCode(error) !== ServerCode.NAMESPACE_EXISTS) throw error;
    }
    const collection = db.collection<ParkedDocument>(PARKED_COLLECTION);
    await collection.createIndex({ consumer: 1, position: 1 }, { name: "consumer_position" });
    return new MongoParkedEventStore(collection);
  }

  async park(entries: readonly ParkedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.collection.bulkWrite(
      entries.map((entry) => ({
        updateOne: { filter: { _id: documentId(entry.consumer, entry.position) }, update: { $setOnInsert: documentOf(entry) }, upsert: true },
      })),
      { ordered: true },
    );
  }

  async recordFailure(consumer: string, position: number, error: string, attempts: number): Promise<void> {
    await this.collection.updateOne({ _id: documentId(consumer, position) }, { $set: { error, attempts } });
  }

  async remove(consumer: string, positions: readonly number[]): Promise<void> {
    if (positions.length === 0) return;
    await this.collection.deleteMany({ _id: { $in: positions.map((position) => documentId(consumer, position)) } });
  }

  async removeConsumers(consumers: readonly string[]): Promise<void> {
    if (consumers.length === 0) return;
    // By the field, not by the entries this gateway holds: another gateway on the database may have parked more.
    await this.collection.deleteMany({ consumer: { $in: [...consumers] } });
  }

  async all(): Promise<ParkedEntry[]> {
    const documents = await this.collection.find({}, { sort: { consumer: 1, position: 1 } }).toArray();
    return documents.map(entryOf);
  }

  /** The client is the event store's: it closes it. */
  async close(): Promise<void> {}
}

function documentId(consumer: string, position: number): string {
  return `${consumer}\u0000${position}`;
}

function documentOf(entry: ParkedEntry): Omit<ParkedDocument, "_id"> {
  return {
    consumer: entry.consumer,
    position: entry.position,
    aggregateType: entry.aggregateType,
    aggregateId: entry.aggregateId,
    eventType: entry.eventType,
    error: entry.error,
    attempts: entry.attempts,
    parkedAt: new Date(entry.parkedAtMs),
  };
}

function entryOf(document: ParkedDocument): ParkedEntry {
  return {
    consumer: document.consumer,
    position: document.position,
    aggregateType: document.aggregateType,
    aggregateId: document.aggregateId,
    eventType: document.eventType,
    error: document.error,
    attempts: document.attempts,
    parkedAtMs: document.parkedAt.getTime(),
  };
}
