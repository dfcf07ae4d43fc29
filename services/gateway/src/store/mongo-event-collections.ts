import { ReadConcern, WriteConcern, type Db, type MongoClient } from "mongodb";
import { serverCode, ServerCode } from "@recq-mesh/protocol/mongodb";
import type { EventStoreCollections } from "./mongo-append-transaction";
import {
  AGGREGATE_SEQUENCE_INDEX,
  EventCollection,
  OUTCOME_TTL_INDEX,
  type CounterDocument,
  type EventDocument,
  type OutcomeDocument,
  type SnapshotDocument,
} from "./mongo-event-documents";
import { raisePositionCounter } from "./mongo-position-counter";

/**
 * The event store's collections, on a database handle that reads and writes with majority concern (a local read
 * could see an append that a failover then rolls back, and its position would be handed out again). Payloads
 * come back as Buffers.
 */
export function eventStoreCollections(client: MongoClient, database: string): { db: Db; collections: EventStoreCollections } {
  const db = client.db(database, { readConcern: new ReadConcern("majority"), writeConcern: new WriteConcern("majority"), promoteBuffers: true });
  return {
    db,
    collections: {
      events: db.collection<EventDocument>(EventCollection.EVENTS),
      counters: db.collection<CounterDocument>(EventCollection.COUNTERS),
      outcomes: db.collection<OutcomeDocument>(EventCollection.OUTCOMES),
      snapshots: db.collection<SnapshotDocument>(EventCollection.SNAPSHOTS),
    },
  };
}

/**
 * Creates what the store needs, idempotently, so that any number of gateways may start at once:
 * the four collections (before any transaction writes to them), the unique index on
 * (aggregateType, aggregateId, sequence), the TTL index on `outcomes.recordedAt` (its expiry updated in place
 * when the retention changed), and the position counter, moved up to the last event's position if it is behind
 * (it is created that way on a database that has events but no counter).
 */
export async function prepareEventCollections(db: Db, collections: EventStoreCollections, outcomeRetentionMs: number): Promise<void> {
  for (const name of Object.values(EventCollection)) await createCollection(db, name);
  await collections.events.createIndex({ aggregateType: 1, aggregateId: 1, sequence: 1 }, { unique: true, name: AGGREGATE_SEQUENCE_INDEX });
  await ensureOutcomeTtl(db, collections, Math.max(1, Math.ceil(outcomeRetentionMs / 1000)));
  await raisePositionCounter(collections.events, collections.counters);
}

async function createCollection(db: Db, name: string): Promise<void> {
  try {
    await db.createCollection(name);
  } catch (error: unknown) {
    if (serverCode(error) !== ServerCode.NAMESPACE_EXISTS) throw error;
  }
}

async function ensureOutcomeTtl(db: Db, collections: EventStoreCollections, expireAfterSeconds: number): Promise<void> {
  try {
    await collections.outcomes.createIndex({ recordedAt: 1 }, { name: OUTCOME_TTL_INDEX, expireAfterSeconds });
  } catch (error: unknown) {
    const code = serverCode(error);
    if (code !== ServerCode.INDEX_OPTIONS_CONFLICT && code !== ServerCode.INDEX_KEY_SPECS_CONFLICT) throw error;
    // An index on recordedAt exists with another expiry (the retention was changed since it was created), or under
    // another name (made by hand, or by an older version): modify it by its key pattern, whatever its name.
    await db.command({ collMod: EventCollection.OUTCOMES, index: { keyPattern: { recordedAt: 1 }, expireAfterSeconds } });
  }
}
