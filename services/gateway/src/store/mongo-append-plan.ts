import { BSON } from "mongodb";
import { aggregateKey } from "./event-index";
import type { AppendRequest, AppendResult, StoredEvent } from "./event-store";
import {
  eventDocumentOf,
  outcomeDocumentOf,
  snapshotKey,
  type EventDocument,
  type OutcomeDocument,
  type SnapshotDocument,
} from "./mongo-event-documents";

/** An append waiting for its group-commit transaction. */
export interface QueuedAppend {
  readonly request: AppendRequest;
  /** When `append` was called: the time its events carry. */
  readonly timeMs: number;
  /** Its size in BSON (`measureAppend`), for the batch bound. */
  readonly bytes: number;
}

/** What one append of a batch gets, decided against the sequences its transaction read. */
export type AppendDecision =
  | { kind: "append"; sequence: number; firstEvent: number }
  | { kind: "conflict"; actualSequence: number };

export interface AppendPlan {
  /** One per append, in order. `firstEvent` counts the events of the batch before the append's own. */
  decisions: AppendDecision[];
  eventCount: number;
}

/**
 * Decides a batch in order, as if its appends ran one after the other: each checks its expected sequence against
 * the aggregate's sequence read in the transaction's snapshot, moved on by the appends before it in the batch.
 * A later append to the same aggregate with the same expected sequence therefore conflicts with the earlier one.
 */
export function planAppends(appends: readonly QueuedAppend[], sequences: ReadonlyMap<string, number>): AppendPlan {
  const current = new Map(sequences);
  let eventCount = 0;
  const decisions = appends.map(({ request }): AppendDecision => {
    if (request.aggregateId === "") return { kind: "append", sequence: 0, firstEvent: eventCount };
    const key = aggregateKey(request.aggregateType, request.aggregateId);
    const actual = current.get(key) ?? 0;
    if (request.expectedSequence !== actual) return { kind: "conflict", actualSequence: actual };
    const sequence = actual + request.events.length;
    current.set(key, sequence);
    const firstEvent = eventCount;
    eventCount += request.events.length;
    return { kind: "append", sequence, firstEvent };
  });
  return { decisions, eventCount };
}

/** The documents a planned batch writes, and what each append answers once they are committed. */
export interface BatchWrites {
  results: AppendResult[];
  events: EventDocument[];
  /** For each event document, the index of its append in the batch. */
  eventOwners: number[];
  outcomes: OutcomeDocument[];
  outcomeOwners: number[];
  snapshots: SnapshotDocument[];
  /** The head position once the batch is committed. */
  head: number;
}

/** Numbers the planned events from `basePosition + 1` (the head the transaction found) and builds the documents. */
export function batchWrites(appends: readonly QueuedAppend[], plan: AppendPlan, basePosition: number, recordedAt: Date): BatchWrites {
  const writes: BatchWrites = { results: [], events: [], eventOwners: [], outcomes: [], outcomeOwners: [], snapshots: [], head: basePosition + plan.eventCount };
  appends.forEach((append, owner) => {
    const decision = plan.decisions[owner];
    if (decision === undefined) throw new Error(`no decision for append ${owner} of the batch`);
    if (decision.kind === "conflict") {
      writes.results.push(decision);
      return;
    }
    const { request } = append;
    const events = storedEvents(append, basePosition + decision.firstEvent, decision.sequence);
    const ack = { commandId: request.commandId, position: basePosition + decision.firstEvent + request.events.length, sequence: decision.sequence };
    writes.results.push({ kind: "appended", ack, events });
    for (const event of events) {
      writes.events.push(eventDocumentOf(event));
      writes.eventOwners.push(owner);
    }
    writes.outcomes.push(outcomeDocumentOf({ kind: "succeeded", ...ack }, recordedAt));
    writes.outcomeOwners.push(owner);
    if (request.snapshot !== undefined) {
      const { sequence, type, payload } = request.snapshot;
      writes.snapshots.push({ _id: snapshotKey(request.aggregateType, request.aggregateId), sequence, type, payload });
    }
  });
  return writes;
}

function storedEvents(append: QueuedAppend, positionBefore: number, sequenceAfter: number): StoredEvent[] {
  const { request, timeMs } = append;
  const sequenceBefore = sequenceAfter - request.events.length;
  return request.events.map((event, index) => ({
    position: positionBefore + index + 1,
    aggregateType: request.aggregateType,
    aggregateId: request.aggregateId,
    sequence: sequenceBefore + index + 1,
    type: event.type,
    payload: event.payload,
    timeMs,
    commandId: request.commandId,
    metadata: event.metadata,
  }));
}

/** The largest document MongoDB stores (its `maxBsonObjectSize`): a bigger one fails its whole transaction. */
export const MAX_BSON_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** What an append writes, measured in BSON. */
export interface AppendSize {
  /** The BSON bytes of all its documents: events, outcome, snapshot. */
  bytes: number;
  /** The BSON bytes of its largest document. */
  largestDocument: number;
}

/** The length of the batch id a transaction stamps on each outcome (a UUID). */
const MEASURED_BATCH_ID = "00000000-0000-0000-0000-000000000000";

/**
 * Measures the documents an append writes as the driver will serialize them (strings in UTF-8, each metadata
 * pair an embedded array), so that an append which passes the batch bound cannot make its transaction fail.
 * Positions, sequences and times are not known before the transaction: they are measured at their widest
 * (a double, 8 bytes; a small integer would be an int32 of 4), so the figure is an upper bound.
 */
export function measureAppend(request: AppendRequest): AppendSize {
  const widest = Number.MAX_SAFE_INTEGER;
  const documents: object[] = request.events.map((event) =>
    eventDocumentOf({ ...event, position: widest, sequence: widest, timeMs: widest, aggregateType: request.aggregateType, aggregateId: request.aggregateId, commandId: request.commandId }),
  );
  // The transaction stamps each outcome with its attempt's batch id (a UUID): measured with one of the same length.
  const outcome = outcomeDocumentOf({ kind: "succeeded", commandId: request.commandId, position: widest, sequence: widest }, new Date(0));
  documents.push({ ...outcome, batchId: MEASURED_BATCH_ID });
  if (request.snapshot !== undefined) {
    const { type, payload } = request.snapshot;
    documents.push({ _id: snapshotKey(request.aggregateType, request.aggregateId), sequence: widest, type, payload } satisfies SnapshotDocument);
  }
  let bytes = 0;
  let largestDocument = 0;
  for (const document of documents) {
    const size = BSON.calculateObjectSize(document);
    bytes += size;
    largestDocument = Math.max(largestDocument, size);
  }
  return { bytes, largestDocument };
}

/**
 * Why an append of `size` cannot be stored, or undefined when it fits: it must fit in one batch (`maxBatchBytes`),
 * and each of its documents in MongoDB's document limit (which a `maxBatchBytes` above 16 MiB would not ensure).
 */
export function appendSizeRefusal(request: AppendRequest, size: AppendSize, maxBatchBytes: number): string | undefined {
  const command = `append of command "${request.commandId}"`;
  if (size.bytes > maxBatchBytes) return `${command} is ${size.bytes} bytes in BSON, more than maxBatchBytes (${maxBatchBytes})`;
  if (size.largestDocument > MAX_BSON_DOCUMENT_BYTES) {
    return `${command} has a document of ${size.largestDocument} bytes in BSON, more than MongoDB's document limit (${MAX_BSON_DOCUMENT_BYTES})`;
  }
  return undefined;
}
