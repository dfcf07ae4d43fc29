import type { MongoClient } from "mongodb";
import { DEFAULT_LIMITS, DEFAULT_OUTCOME_RETENTION_MS, type StoreLimits, type StoreLogger } from "./embedded-store-options";
import { MAX_MONGODB_COMMIT_TIMEOUT_MS } from "@recq-mesh/protocol";

/** What the test hook `beforeCommit` is told about the transaction it holds. */
export interface HeldBatch {
  /** Command ids of the appends the transaction will store, in order. */
  commandIds: string[];
  /** The positions the transaction took: [first, last], or undefined when it appends no event. */
  positions: [number, number] | undefined;
}

/**
 * Options of `MongoEventStore.open`.
 *
 * Limits, each checked before an append is queued; exceeding one rejects that call alone with an
 * `AppendRejectedError` that names it:
 * - `maxEventsPerAppend` — events in one append. Default 1,000.
 * - `maxPayloadBytes` — bytes of one event's payload, and of a snapshot's. Default 4 MiB.
 * - `maxBatchBytes` — BSON bytes of one group-commit transaction's documents. Default 16 MiB. A batch is cut
 *   before it would pass this, and one append (events, metadata, snapshot) must fit in it.
 */
export interface MongoEventStoreOptions {
  client: MongoClient;
  /** The database holding `events`, `counters`, `outcomes` and `snapshots`. */
  database: string;
  /** Close `client` when the store closes: for a client opened for the store alone. Default false. */
  closeClient?: boolean;
  /** How long `findOutcome` answers for a command after its outcome was recorded. Default 24 hours. */
  outcomeRetentionMs?: number;
  maxEventsPerAppend?: number;
  maxPayloadBytes?: number;
  maxBatchBytes?: number;
  /** Most appends one group-commit transaction takes. Default 500. */
  maxBatchAppends?: number;
  /**
   * While the change stream on the position counter (in `counters`) is unavailable (no replica set, no privilege, an outage), how often the
   * head is polled to notice other gateways' appends. Default 1,000 ms. The stream is retried meanwhile.
   */
  pollIntervalMs?: number;
  /**
   * How long one group-commit transaction may take, its retries after write conflicts and its wait for a
   * majority included: each commit is sent with this `maxTimeMS`, and no attempt starts after it. Without a
   * majority, the batch's appends then fail (the gateway answers UNAVAILABLE) instead of waiting for ever, and
   * `close()` returns. Default 10,000 ms.
   */
  commitTimeoutMs?: number;
  /** Receives change stream failures and errors thrown by `onAppended` listeners. */
  logger?: StoreLogger;
  /**
   * For tests only: runs inside each transaction after it took its positions and wrote its documents, before it
   * commits. Holding it open holds the transaction open; throwing aborts it (every append of the batch fails).
   */
  beforeCommit?: (batch: HeldBatch) => Promise<void>;
  /**
   * For tests only: runs after each transaction committed. What it throws is taken as the commit's error, so a
   * driver error with `UnknownTransactionCommitResult` makes a commit whose result is unknown although it committed.
   */
  afterCommit?: (batch: HeldBatch) => Promise<void>;
}

export interface MongoEventStoreSettings {
  outcomeRetentionMs: number;
  limits: StoreLimits;
  maxBatchAppends: number;
  pollIntervalMs: number;
  commitTimeoutMs: number;
  closeClient: boolean;
  logger: StoreLogger | undefined;
  beforeCommit: ((batch: HeldBatch) => Promise<void>) | undefined;
  afterCommit: ((batch: HeldBatch) => Promise<void>) | undefined;
}

export const DEFAULT_MAX_BATCH_APPENDS = 500;
export const DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024;
export const DEFAULT_POLL_INTERVAL_MS = 1000;
export const DEFAULT_COMMIT_TIMEOUT_MS = 10_000;

export function resolveMongoStoreOptions(options: MongoEventStoreOptions): MongoEventStoreSettings {
  if (typeof options.database !== "string" || options.database === "") throw new Error("MongoEventStore needs a database name");
  return {
    outcomeRetentionMs: positiveInteger("outcomeRetentionMs", options.outcomeRetentionMs, DEFAULT_OUTCOME_RETENTION_MS),
    limits: {
      maxEventsPerAppend: positiveInteger("maxEventsPerAppend", options.maxEventsPerAppend, DEFAULT_LIMITS.maxEventsPerAppend),
      maxPayloadBytes: positiveInteger("maxPayloadBytes", options.maxPayloadBytes, DEFAULT_LIMITS.maxPayloadBytes),
      maxWriteBytes: positiveInteger("maxBatchBytes", options.maxBatchBytes, DEFAULT_MAX_BATCH_BYTES),
    },
    maxBatchAppends: positiveInteger("maxBatchAppends", options.maxBatchAppends, DEFAULT_MAX_BATCH_APPENDS),
    pollIntervalMs: positiveInteger("pollIntervalMs", options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS),
    commitTimeoutMs: atMost(MAX_MONGODB_COMMIT_TIMEOUT_MS, "commitTimeoutMs", positiveInteger("commitTimeoutMs", options.commitTimeoutMs, DEFAULT_COMMIT_TIMEOUT_MS)),
    closeClient: options.closeClient === true,
    logger: options.logger,
    beforeCommit: options.beforeCommit,
    afterCommit: options.afterCommit,
  };
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`MongoEventStore option ${name} must be a positive integer, got ${value}`);
  return value;
}

/** The server refuses a maxTimeMS above 2^31−1 ms; `commitTimeoutMs` is sent as one (MAX_MONGODB_COMMIT_TIMEOUT_MS). */
function atMost(maximum: number, name: string, value: number): number {
  if (value > maximum) throw new Error(`MongoEventStore option ${name} must be at most ${maximum}, got ${value}`);
  return value;
}
