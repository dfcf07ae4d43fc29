/**
 * The view store port: read models as collections of documents with MongoDB filter, sort and update semantics,
 * and each projection's checkpoint. Adapters: `embedded-view-store.ts` (in memory, mingo) and `mongo-view-store.ts`
 * (MongoDB replica set).
 * One contract suite runs against each.
 */

export type ViewDocument = { _id: string } & Record<string, unknown>;

/** A MongoDB query filter (`{ name: { $regex: "x", $options: "i" } }`, `$and`, `$gt`, …). */
export type ViewFilter = Record<string, unknown>;
/** A MongoDB sort specification; keys in order of precedence. */
export type ViewSort = Record<string, 1 | -1>;

export interface FindOptions {
  sort?: ViewSort;
  limit?: number;
  skip?: number;
}

/** One write of a projection step. Applied in order, all together with the checkpoint. */
export type ViewWrite =
  /** Inserts or replaces the whole document with this `_id`. */
  | { kind: "put"; collection: string; document: ViewDocument }
  /** A MongoDB update (`$set`, `$inc`, `$push`, `$pull`, …) of the document with this `_id`; `upsert` inserts it when missing. */
  | { kind: "update"; collection: string; id: string; update: Record<string, unknown>; upsert?: boolean }
  | { kind: "delete"; collection: string; id: string };

export interface ViewChange {
  collection: string;
  id: string;
  /** The checkpoint position of the commit that changed it. */
  position: number;
}

export interface WatchOptions {
  /** Only the changes of the document with this `_id`. */
  id?: string;
}

export interface ViewStore {
  findById(collection: string, id: string): Promise<ViewDocument | undefined>;
  find(collection: string, filter: ViewFilter, options?: FindOptions): Promise<ViewDocument[]>;
  count(collection: string, filter: ViewFilter): Promise<number>;
  /**
   * Applies `writes` and moves `consumer`'s checkpoint to `position`, atomically: either all of it happens or none.
   * A commit at or below the current checkpoint changes nothing (redelivery is harmless).
   */
  commit(consumer: string, position: number, writes: ViewWrite[]): Promise<void>;
  /** The position through which `consumer` has applied events (0 if never). */
  checkpoint(consumer: string): Promise<number>;
  /**
   * Calls `listener` after each commit for each document it changed — with `options.id`, for that document
   * only (cheaper than filtering in the listener when many watch one document each). Returns the unsubscribe.
   */
  watch(collection: string, listener: (change: ViewChange) => void, options?: WatchOptions): () => void;
  /** Declares an index the queries of a collection need (the embedded adapter may ignore it). Idempotent. */
  ensureIndex(collection: string, keys: ViewSort, options?: { unique?: boolean }): Promise<void>;
  /**
   * Removes a collection with its documents and indexes (an old generation of a rebuilt projection). Watchers of the
   * name stay subscribed. Dropping a collection that does not exist does nothing.
   */
  dropCollection(collection: string): Promise<void>;
  /** Forgets `consumer`'s checkpoint: it reads 0 again. Forgetting an unknown one does nothing. */
  dropCheckpoint(consumer: string): Promise<void>;
  close(): Promise<void>;
}
