import { MAX_FRAME_BODY_BYTES } from "./journal-frame";

/** What the store logs: a subset of the kit's `Logger`, so that one can be passed as it is. */
export interface StoreLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Options of `EmbeddedEventStore.open`.
 *
 * Limits. Each is checked before an append is ordered; exceeding one rejects that call alone with an Error that
 * names the limit, and no other append is affected.
 * - `maxEventsPerAppend` — events in one append. Default 1,000.
 * - `maxPayloadBytes` — bytes of one event's payload, and of a snapshot's payload. Default 4 MiB, gRPC's default
 *   message limit, so anything a handler could send in one message fits.
 * - `maxWriteBytes` — bytes of one group-commit write (one write + one fdatasync). Default 16 MiB. A batch is cut
 *   before it would pass this; one append's whole record (events, metadata, snapshot, framing) must fit in it, so it
 *   also bounds an append's total size. It also bounds how much of the journal's end a crash can tear: on open,
 *   damage within the last `maxWriteBytes` can be a torn tail; farther from the end it is corruption. At most 1 GiB.
 *
 * Memory. Events stay in the journal; memory holds a sparse index of positions (8 bytes per 64 events), per
 * aggregate a small entry and 16 bytes per record after its latest snapshot, the locations of the outcomes within
 * retention (about 40 to 60 bytes per command), and:
 * - `cacheBytes` — recently committed or read records (events and snapshots, decoded), least recently used evicted
 *   first, estimated with their object overhead. Default 32 MiB. Reads past it go to the journal file.
 */
export interface EmbeddedEventStoreOptions {
  /** The data folder; created if missing. Holds `events.journal`, `journal.lock` and `index.checkpoint`. */
  directory: string;
  /** How long `findOutcome` answers for a command after its outcome was recorded. Default 24 hours. */
  outcomeRetentionMs?: number;
  maxEventsPerAppend?: number;
  maxPayloadBytes?: number;
  maxWriteBytes?: number;
  cacheBytes?: number;
  /** Receives the torn-tail warning on open and errors thrown by `onAppended` listeners. */
  logger?: StoreLogger;
}

export interface StoreLimits {
  maxEventsPerAppend: number;
  maxPayloadBytes: number;
  maxWriteBytes: number;
}

export interface EmbeddedStoreSettings extends StoreLimits {
  directory: string;
  cacheBytes: number;
  outcomeRetentionMs: number;
  logger: StoreLogger | undefined;
}

export const DEFAULT_OUTCOME_RETENTION_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;
export const DEFAULT_LIMITS: Readonly<StoreLimits> = {
  maxEventsPerAppend: 1000,
  maxPayloadBytes: 4 * 1024 * 1024,
  maxWriteBytes: 16 * 1024 * 1024,
};

export function resolveStoreOptions(options: EmbeddedEventStoreOptions): EmbeddedStoreSettings {
  if (typeof options.directory !== "string" || options.directory === "") {
    throw new Error("EmbeddedEventStore needs a directory");
  }
  return {
    directory: options.directory,
    outcomeRetentionMs: positiveInteger("outcomeRetentionMs", options.outcomeRetentionMs, DEFAULT_OUTCOME_RETENTION_MS),
    maxEventsPerAppend: positiveInteger("maxEventsPerAppend", options.maxEventsPerAppend, DEFAULT_LIMITS.maxEventsPerAppend),
    maxPayloadBytes: positiveInteger("maxPayloadBytes", options.maxPayloadBytes, DEFAULT_LIMITS.maxPayloadBytes),
    maxWriteBytes: Math.min(positiveInteger("maxWriteBytes", options.maxWriteBytes, DEFAULT_LIMITS.maxWriteBytes), MAX_FRAME_BODY_BYTES),
    cacheBytes: positiveInteger("cacheBytes", options.cacheBytes, DEFAULT_CACHE_BYTES),
    logger: options.logger,
  };
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`EmbeddedEventStore option ${name} must be a positive integer, got ${value}`);
  return value;
}
