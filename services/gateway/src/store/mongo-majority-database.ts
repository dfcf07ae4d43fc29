import { ReadConcern, WriteConcern, type Db, type MongoClient } from "mongodb";

/** How long a write waits for a majority unless told otherwise: RECQ_MONGODB_COMMIT_TIMEOUT_MS's default. */
export const DEFAULT_MAJORITY_WAIT_MS = 10_000;

/**
 * A database handle for the gateway's stores outside the event store's transactions (the accepted-command inbox,
 * the parked events): majority read and write concern — a write acknowledged by a primary alone could be rolled back
 * by a failover — whatever the URI says, and a bound on the wait for that majority. A majority write concern with
 * no `wtimeout` waits for ever without a majority (a PSA set with its secondary down): an acceptance, a parking,
 * every claim and lease renewal would then hang, and the gateway's shutdown with them. Past `majorityWaitMs` the
 * server answers a write concern error instead, and the caller fails rather than hangs: the write may have been
 * applied on the primary, so each store's writes are ones that may be repeated (an acceptance retried by its
 * caller, a parking that keeps its first entry, claims and renewals). Binary fields come back as Buffers.
 */
export function majorityDatabase(client: MongoClient, database: string, majorityWaitMs: number): Db {
  return client.db(database, {
    readConcern: new ReadConcern("majority"),
    writeConcern: new WriteConcern("majority", majorityWaitMs),
    promoteBuffers: true,
  });
}
