import { ReadConcern, ReadPreference, WriteConcern, type Collection, type Db, type MongoClient, type TransactionOptions } from "mongodb";
import { CHECKPOINTS_COLLECTION, type CheckpointDocument } from "./mongo-view-documents";

/**
 * The view store's database handle, whatever the connection string says: reads from the primary (a URI's
 * `readPreference=secondaryPreferred` would otherwise give stale views to queries that were promised their own
 * writes), writes acknowledged by a majority within `majorityWaitMs` (`wtimeout`: without it a write outside a
 * commit — the drop of an old generation, of a checkpoint — waits for ever where there is no majority), binary
 * fields as Buffers.
 */
export function viewDatabase(client: MongoClient, database: string, majorityWaitMs: number): Db {
  return client.db(database, { readPreference: ReadPreference.primary, writeConcern: new WriteConcern("majority", majorityWaitMs), promoteBuffers: true });
}

/** How far past the commit's own bound the driver's write concern timeout is set, so that the commit's bound decides. */
const WTIMEOUT_MARGIN_MS = 1000;

/**
 * A commit's transaction: it reads the checkpoint from a majority-committed snapshot and commits with majority write
 * concern, on the primary. Its wait for that majority is bounded by `commitTimeoutMs`, sent as the commit's
 * `maxTimeMS` (`maxCommitTimeMS`). Without it, where there is no majority (a PSA set with its secondary down), the
 * driver sends each commit with a `wtimeout` of 10 s and `withTransaction` retries a commit that timed out
 * (UnknownTransactionCommitResult) for up to 120 s: every event stalled its projection two minutes, and a drain
 * waited as long. With it the server answers MaxTimeMSExpired, which `withTransaction` gives up on (the commit may
 * have been applied on the primary: the projection commits the same position again, which its checkpoint makes
 * safe). The write concern's own `wtimeout` is set past the bound, so that the bound decides.
 */
export function commitTransactionOptions(commitTimeoutMs: number): TransactionOptions {
  return {
    readConcern: new ReadConcern("snapshot"),
    writeConcern: new WriteConcern("majority", commitTimeoutMs + WTIMEOUT_MARGIN_MS),
    readPreference: ReadPreference.primary,
    maxCommitTimeMS: commitTimeoutMs,
  };
}

/**
 * The checkpoints as read outside a commit's transaction, with majority read concern: a checkpoint read at the
 * default (local) level may be one a failover then rolls back, and a projector that trusted it would skip the
 * events in between for good. (Inside a commit the transaction's snapshot read concern applies.)
 */
export function checkpointReads(db: Db): Collection<CheckpointDocument> {
  return db.collection<CheckpointDocument>(CHECKPOINTS_COLLECTION, { readConcern: new ReadConcern("majority") });
}
