import { ReadConcern, ReadPreference, WriteConcern, type Collection, type Db, type MongoClient } from "mongodb";
import { CHECKPOINTS_COLLECTION, type CheckpointDocument } from "./mongo-view-documents";

/**
 * The view store's database handle, whatever the connection string says: reads from the primary (a URI's
 * `readPreference=secondaryPreferred` would otherwise give stale views to queries that were promised their own
 * writes), writes acknowledged by a majority, binary fields as Buffers.
 */
export function viewDatabase(client: MongoClient, database: string): Db {
  return client.db(database, { readPreference: ReadPreference.primary, writeConcern: new WriteConcern("majority"), promoteBuffers: true });
}

/**
 * The checkpoints as read outside a commit's transaction, with majority read concern: a checkpoint read at the
 * default (local) level may be one a failover then rolls back, and a projector that trusted it would skip the
 * events in between for good. (Inside a commit the transaction's snapshot read concern applies.)
 */
export function checkpointReads(db: Db): Collection<CheckpointDocument> {
  return db.collection<CheckpointDocument>(CHECKPOINTS_COLLECTION, { readConcern: new ReadConcern("majority") });
}
