import type { CommandOutcome, SnapshotRecord, StoredEvent } from "./event-store";

/**
 * How the MongoDB event store lays out its data: four collections in one database.
 *
 * - `events`: one document per event. `_id` is the global position, so positions are unique by construction;
 *   a unique index on (aggregateType, aggregateId, sequence) keeps each aggregate's stream free of duplicates.
 * - `counters`: the document `{ _id: "events", position }`, the last position handed out. It is `$inc`'d in the
 *   same transaction that inserts the events, which is what keeps positions dense and in commit order. A
 *   transaction that checks a sequence without appending events bumps its `sequenceChecks` so that it conflicts too.
 * - `outcomes`: one document per command id (`_id`), with a TTL index on `recordedAt`.
 * - `snapshots`: the latest snapshot of each aggregate, `_id` = { aggregateType, aggregateId }.
 */
export const EventCollection = {
  EVENTS: "events",
  COUNTERS: "counters",
  OUTCOMES: "outcomes",
  SNAPSHOTS: "snapshots",
} as const;

export const POSITION_COUNTER_ID = "events";
export const AGGREGATE_SEQUENCE_INDEX = "aggregate_sequence";
export const OUTCOME_TTL_INDEX = "recordedAt_ttl";

export interface EventDocument {
  /** The global position. */
  _id: number;
  aggregateType: string;
  aggregateId: string;
  sequence: number;
  type: string;
  payload: Buffer;
  timeMs: number;
  commandId: string;
  /** [key, value] pairs: metadata keys are free text, and MongoDB field names may not be (no `.`, no leading `$`). */
  metadata: [string, string][];
}

export interface CounterDocument {
  _id: string;
  position: number;
  /** Bumped by a transaction that checks an aggregate's sequence without appending events, so that it conflicts. */
  sequenceChecks?: number;
}

export interface OutcomeDocument {
  /** The command id. */
  _id: string;
  recordedAt: Date;
  kind: "succeeded" | "failed";
  position?: number;
  sequence?: number;
  code?: number;
  message?: string;
  reason?: string;
  /** The group-commit attempt that stored a succeeded outcome (see `readSettledBatch`). */
  batchId?: string;
}

export interface SnapshotKey {
  aggregateType: string;
  aggregateId: string;
}

export interface SnapshotDocument {
  /** Always built by `snapshotKey`: an embedded `_id` matches only with its fields in the same order. */
  _id: SnapshotKey;
  sequence: number;
  type: string;
  payload: Buffer;
}

export function snapshotKey(aggregateType: string, aggregateId: string): SnapshotKey {
  return { aggregateType, aggregateId };
}

export function eventDocumentOf(event: StoredEvent): EventDocument {
  return {
    _id: event.position,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    sequence: event.sequence,
    type: event.type,
    payload: event.payload,
    timeMs: event.timeMs,
    commandId: event.commandId,
    metadata: Object.entries(event.metadata),
  };
}

export function storedEventOf(document: EventDocument): StoredEvent {
  return {
    position: document._id,
    aggregateType: document.aggregateType,
    aggregateId: document.aggregateId,
    sequence: document.sequence,
    type: document.type,
    payload: document.payload,
    timeMs: document.timeMs,
    commandId: document.commandId,
    metadata: Object.fromEntries(document.metadata),
  };
}

export function outcomeDocumentOf(outcome: CommandOutcome, recordedAt: Date): OutcomeDocument {
  if (outcome.kind === "succeeded") {
    return { _id: outcome.commandId, recordedAt, kind: "succeeded", position: outcome.position, sequence: outcome.sequence };
  }
  return { _id: outcome.commandId, recordedAt, kind: "failed", code: outcome.code, message: outcome.message, reason: outcome.reason };
}

export function commandOutcomeOf(document: OutcomeDocument): CommandOutcome {
  const commandId = document._id;
  if (document.kind === "succeeded") return { kind: "succeeded", commandId, position: document.position ?? 0, sequence: document.sequence ?? 0 };
  return { kind: "failed", commandId, code: document.code ?? 0, message: document.message ?? "", reason: document.reason ?? "" };
}

export function snapshotRecordOf(document: SnapshotDocument): SnapshotRecord {
  return { sequence: document.sequence, type: document.type, payload: document.payload };
}
