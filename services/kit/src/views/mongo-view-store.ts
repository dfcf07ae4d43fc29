import type { Collection, Db, MongoClient } from "mongodb";
import { serverCode, ServerCode } from "@recq-mesh/protocol/mongodb";
import { assertNoScripts } from "./filter-scripts";
import { planFind } from "./find-range";
import { CHECKPOINTS_COLLECTION, type CheckpointDocument, type ViewRecord } from "./mongo-view-documents";
import { ViewChangeFeed } from "./mongo-view-change-feed";
import { checkpointReads, commitTransactionOptions, viewDatabase } from "./mongo-view-database";
import { commitFailure, indexFailure, readFailure } from "./mongo-view-errors";
import { ViewFeeds } from "./mongo-view-feeds";
import { resolveMongoViewOptions, type MongoViewStoreOptions, type MongoViewStoreSettings } from "./mongo-view-store-options";
import { prepareWrites, type WriteRun } from "./mongo-view-writes";
import { ViewChangeNotifier } from "./view-change-notifier";
import type { FindOptions, ViewChange, ViewDocument, ViewFilter, ViewSort, ViewStore, ViewWrite, WatchOptions } from "./view-store";
import {
  assertCollectionName,
  assertConsumerName,
  assertDocumentId,
  assertFilter,
  assertIndexKeys,
  assertPosition,
  assertWriteList,
} from "./view-store-arguments";
import { ViewStoreError } from "./view-store-error";

export type { MongoViewStoreOptions } from "./mongo-view-store-options";

/**
 * The view store on MongoDB: each view is a collection of the database, named as the projection names it;
 * checkpoints are documents of `recq_checkpoints` beside them. Every instance of a service may share one database.
 *
 * - `commit` runs the checkpoint check, the checkpoint update and the view writes in one transaction
 *   (`withTransaction`, retried on transient errors): all or nothing, and a commit at or below the checkpoint
 *   changes nothing, even when two instances commit the same position at once.
 * - `find` passes the filter, the sort (with `_id` appended), skip and limit to the server, with the embedded
 *   store's limits and errors; the queries' indexes come from `ensureIndex` (`createIndex`, idempotent).
 * - `watch` follows a change stream (see `ViewChangeFeed`), so it needs a replica set; notifications come after
 *   the commit, not before its promise resolves.
 * - Reads use the primary, whatever the URI's read preference; checkpoints outside a commit are read with
 *   majority read concern (mongo-view-database.ts); commits and drops use majority write concern, their wait for
 *   the majority bounded by `commitTimeoutMs`.
 * - Failures are `ViewStoreError`s with the embedded store's codes; a server or network that is unavailable is a
 *   MeshError UNAVAILABLE (reason STORE_UNAVAILABLE) with the driver's error as its cause (mongo-view-errors.ts).
 */
export class MongoViewStore implements ViewStore {
  private readonly notifier: ViewChangeNotifier;
  private readonly feeds: ViewFeeds;
  private readonly checkpoints: Collection<CheckpointDocument>;
  private readonly majorityCheckpoints: Collection<CheckpointDocument>;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly settings: MongoViewStoreSettings,
    private readonly client: MongoClient,
    private readonly db: Db,
  ) {
    this.notifier = new ViewChangeNotifier(settings.onListenerError);
    this.checkpoints = db.collection<CheckpointDocument>(CHECKPOINTS_COLLECTION);
    this.majorityCheckpoints = checkpointReads(db);
    this.feeds = new ViewFeeds(
      (collection) =>
        new ViewChangeFeed(
          client,
          db,
          collection,
          (changes) => this.notifier.publish(changes),
          (error) => settings.onWatchError(error, collection),
        ),
    );
  }

  /** Opens the store on `options.database`, creating its checkpoints collection if missing. */
  static async open(options: MongoViewStoreOptions): Promise<MongoViewStore> {
    const settings = resolveMongoViewOptions(options);
    const db = viewDatabase(options.client, options.database, settings.commitTimeoutMs);
    try {
      await db.createCollection(CHECKPOINTS_COLLECTION);
    } catch (error: unknown) {
      if (serverCode(error) !== ServerCode.NAMESPACE_EXISTS) throw error;
    }
    return new MongoViewStore(settings, options.client, db);
  }

  async findById(collection: string, id: string): Promise<ViewDocument | undefined> {
    this.assertOpen("findById");
    assertViewCollection(collection);
    assertDocumentId(id);
    await this.feeds.ready();
    try {
      const document = await this.view(collection).findOne({ _id: id });
      return document === null ? undefined : viewDocumentOf(document, collection);
    } catch (error: unknown) {
      throw readFailure(error, `findById on '${collection}'`);
    }
  }

  async find(collection: string, filter: ViewFilter, options?: FindOptions): Promise<ViewDocument[]> {
    this.assertOpen("find");
    assertViewCollection(collection);
    assertFilter(filter);
    assertNoScripts(filter);
    const plan = planFind(options, this.settings.maxFindResults);
    await this.feeds.ready();
    let found: ViewRecord[];
    try {
      found = await this.view(collection).find(filter, { sort: plan.sort, skip: plan.skip, limit: plan.take }).toArray();
    } catch (error: unknown) {
      throw readFailure(error, `invalid filter on '${collection}'`, `find on '${collection}'`);
    }
    if (!plan.limited && found.length > this.settings.maxFindResults) {
      throw new ViewStoreError(
        "LIMIT_EXCEEDED",
        `find on '${collection}' matches more than the store's maximum of ${this.settings.maxFindResults} documents: pass a limit and page with skip`,
      );
    }
    return found.map((document) => viewDocumentOf(document, collection));
  }

  async count(collection: string, filter: ViewFilter): Promise<number> {
    this.assertOpen("count");
    assertViewCollection(collection);
    assertFilter(filter);
    assertNoScripts(filter);
    await this.feeds.ready();
    try {
      return await this.view(collection).countDocuments(filter);
    } catch (error: unknown) {
      throw readFailure(error, `invalid filter on '${collection}'`, `count on '${collection}'`);
    }
  }

  async commit(consumer: string, position: number, writes: ViewWrite[]): Promise<void> {
    this.assertOpen("commit");
    assertConsumerName(consumer);
    assertPosition(position);
    assertWriteList(writes);
    await this.feeds.ready();
    if (position <= (await this.checkpointOf(consumer))) return;
    if (writes.length > this.settings.maxWritesPerCommit) {
      throw new ViewStoreError(
        "LIMIT_EXCEEDED",
        `commit of '${consumer}' at ${position} has ${writes.length} writes, more than the store's maximum of ${this.settings.maxWritesPerCommit}`,
      );
    }
    const commitName = `commit of '${consumer}' at ${position}`;
    const describeCommit = `${commitName} rejected, nothing applied`;
    for (const write of writes) assertNotCheckpoints((write as { collection?: unknown } | null)?.collection);
    const runs = prepareWrites(writes, describeCommit);
    const attempt: { failedRun: WriteRun | undefined } = { failedRun: undefined };
    const session = this.client.startSession();
    try {
      await session.withTransaction(async (transaction) => {
        attempt.failedRun = undefined;
        const checkpoint = await this.checkpoints.findOne({ _id: consumer }, { session: transaction });
        if ((checkpoint?.position ?? 0) >= position) return; // committed meanwhile, by another instance
        // The checkpoint first: a change feed learns the commit's position before it sees the view writes.
        const moved: CheckpointDocument = { _id: consumer, position };
        await this.checkpoints.replaceOne({ _id: consumer }, moved, { session: transaction, upsert: true });
        for (const run of runs) {
          attempt.failedRun = run;
          await this.view(run.collection).bulkWrite(
            run.writes.map((write) => write.operation),
            { session: transaction, ordered: true },
          );
        }
        attempt.failedRun = undefined;
      }, commitTransactionOptions(this.settings.commitTimeoutMs));
    } catch (error: unknown) {
      throw commitFailure(error, attempt.failedRun, commitName, writes.length);
    } finally {
      await session.endSession();
    }
  }

  async checkpoint(consumer: string): Promise<number> {
    this.assertOpen("checkpoint");
    assertConsumerName(consumer);
    await this.feeds.ready();
    return this.checkpointOf(consumer);
  }

  watch(collection: string, listener: (change: ViewChange) => void, options?: WatchOptions): () => void {
    this.assertOpen("watch");
    assertViewCollection(collection);
    if (options?.id !== undefined) assertDocumentId(options.id);
    const unsubscribe = this.notifier.subscribe(collection, listener, options?.id);
    this.feeds.acquire(collection);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      unsubscribe();
      this.feeds.release(collection);
    };
  }

  async ensureIndex(collection: string, keys: ViewSort, options?: { unique?: boolean }): Promise<void> {
    this.assertOpen("ensureIndex");
    assertViewCollection(collection);
    assertIndexKeys(keys);
    try {
      await this.view(collection).createIndex(keys, options?.unique === true ? { unique: true } : {});
    } catch (error: unknown) {
      throw indexFailure(error, collection, keys);
    }
  }

  async dropCollection(collection: string): Promise<void> {
    this.assertOpen("dropCollection");
    assertViewCollection(collection);
    try {
      await this.view(collection).drop();
    } catch (error: unknown) {
      // Servers before 7.0 answer NamespaceNotFound for a collection that does not exist: nothing to drop.
      if (serverCode(error) !== ServerCode.NAMESPACE_NOT_FOUND) throw readFailure(error, `dropCollection of '${collection}'`);
    }
  }

  async dropCheckpoint(consumer: string): Promise<void> {
    this.assertOpen("dropCheckpoint");
    assertConsumerName(consumer);
    try {
      await this.checkpoints.deleteOne({ _id: consumer });
    } catch (error: unknown) {
      throw readFailure(error, `dropCheckpoint of '${consumer}'`);
    }
  }

  /** Stops every change feed and listener (the data stays); closes the client when the store owns it. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.notifier.clear();
    await this.feeds.closeAll();
    if (this.settings.closeClient) await this.client.close();
  }

  private view(collection: string): Collection<ViewRecord> {
    return this.db.collection<ViewRecord>(collection);
  }

  private async checkpointOf(consumer: string): Promise<number> {
    try {
      return (await this.majorityCheckpoints.findOne({ _id: consumer }))?.position ?? 0;
    } catch (error: unknown) {
      throw readFailure(error, `checkpoint of '${consumer}'`);
    }
  }

  private assertOpen(operation: string): void {
    if (this.closing !== undefined) throw new ViewStoreError("CLOSED", `view store is closed: ${operation} refused`);
  }
}

/** A view's collection name: MongoDB's rules, and not the checkpoints' collection. */
function assertViewCollection(collection: unknown): asserts collection is string {
  assertCollectionName(collection);
  assertNotCheckpoints(collection);
}

function assertNotCheckpoints(collection: unknown): void {
  if (collection === CHECKPOINTS_COLLECTION) {
    throw new ViewStoreError("INVALID_ARGUMENT", `'${CHECKPOINTS_COLLECTION}' holds the checkpoints of the view store: a view may not use that name`);
  }
}

function viewDocumentOf(document: ViewRecord, collection: string): ViewDocument {
  if (typeof document._id !== "string") {
    throw new Error(`collection '${collection}' holds a document whose _id is not a string: it was not written by a view store`);
  }
  return document;
}
