import type { MongoClient } from "mongodb";
import { DEFAULT_MONGODB_COMMIT_TIMEOUT_MS, MAX_MONGODB_COMMIT_TIMEOUT_MS } from "@recq-mesh/protocol";
import { DEFAULT_MAX_FIND_RESULTS, DEFAULT_MAX_WRITES_PER_COMMIT } from "./embedded-view-store-options";
import type { ViewChange } from "./view-store";
import { messageOf } from "./view-store-error";

/** Options of `MongoViewStore.open`. The limits are the embedded store's, with the same defaults and errors. */
export interface MongoViewStoreOptions {
  client: MongoClient;
  /** The database holding the view collections and `recq_checkpoints`. */
  database: string;
  /** Close `client` when the store closes: for a client opened for the store alone. Default false. */
  closeClient?: boolean;
  /** Most writes one commit may carry (default 10 000); a larger commit rejects with LIMIT_EXCEEDED. */
  maxWritesPerCommit?: number;
  /** Most documents one `find` may return (default 1 000); see `EmbeddedViewStoreOptions.maxFindResults`. */
  maxFindResults?: number;
  /**
   * How long a commit, a drop of a collection or of a checkpoint may wait for a majority (default 10 000 ms,
   * `RECQ_MONGODB_COMMIT_TIMEOUT_MS` for `openViewStore`): past it the call fails with UNAVAILABLE
   * (STORE_UNAVAILABLE) where there is no majority — a drop instead of waiting for ever, a commit instead of after
   * the driver's 120 s of commit retries.
   */
  commitTimeoutMs?: number;
  /** Hears a watch listener's exception (default: a process warning); it never reaches the change stream. */
  onListenerError?: (error: unknown, change: ViewChange) => void;
  /** Hears a change stream failure; the stream is reopened after a backoff (default: a process warning). */
  onWatchError?: (error: unknown, collection: string) => void;
}

export const DEFAULT_VIEW_COMMIT_TIMEOUT_MS = DEFAULT_MONGODB_COMMIT_TIMEOUT_MS;

export interface MongoViewStoreSettings {
  maxWritesPerCommit: number;
  maxFindResults: number;
  commitTimeoutMs: number;
  closeClient: boolean;
  onListenerError: (error: unknown, change: ViewChange) => void;
  onWatchError: (error: unknown, collection: string) => void;
}

export function resolveMongoViewOptions(options: MongoViewStoreOptions): MongoViewStoreSettings {
  if (typeof options.database !== "string" || options.database === "") throw new RangeError("MongoViewStore needs a database name");
  return {
    maxWritesPerCommit: positiveInteger("maxWritesPerCommit", options.maxWritesPerCommit ?? DEFAULT_MAX_WRITES_PER_COMMIT),
    maxFindResults: positiveInteger("maxFindResults", options.maxFindResults ?? DEFAULT_MAX_FIND_RESULTS),
    // Bounded above as RECQ_MONGODB_COMMIT_TIMEOUT_MS is: it is sent as the commit's maxTimeMS (see MAX_MONGODB_COMMIT_TIMEOUT_MS).
    commitTimeoutMs: positiveInteger("commitTimeoutMs", options.commitTimeoutMs ?? DEFAULT_VIEW_COMMIT_TIMEOUT_MS, MAX_MONGODB_COMMIT_TIMEOUT_MS),
    closeClient: options.closeClient === true,
    onListenerError: options.onListenerError ?? warnAboutListenerError,
    onWatchError: options.onWatchError ?? warnAboutWatchError,
  };
}

function positiveInteger(name: string, value: number, maximum = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > maximum) {
    throw new RangeError(`MongoViewStore option ${name} must be a positive integer${maximum < Number.MAX_SAFE_INTEGER ? ` of at most ${maximum}` : ""}, got ${String(value)}`);
  }
  return value;
}

function warnAboutListenerError(error: unknown, change: ViewChange): void {
  process.emitWarning(
    `a view change listener of '${change.collection}' threw on document '${change.id}' at position ${change.position}: ${messageOf(error)}`,
    { code: "RECQ_VIEW_LISTENER_FAILED" },
  );
}

function warnAboutWatchError(error: unknown, collection: string): void {
  process.emitWarning(`the change stream watching '${collection}' failed and reopens after a backoff: ${messageOf(error)}`, {
    code: "RECQ_VIEW_WATCH_FAILED",
  });
}
