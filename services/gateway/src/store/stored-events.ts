import type { StoredEvent } from "./event-store";
import type { CommitRecord } from "./journal-record";

/** A commit's events as stored: each with its position and sequence, counted back from the record's last ones. */
export function storedEventsOf(record: CommitRecord): StoredEvent[] {
  const count = record.events.length;
  return record.events.map((event, index) => ({
    position: record.position - count + 1 + index,
    aggregateType: record.aggregateType,
    aggregateId: record.aggregateId,
    sequence: record.sequence - count + 1 + index,
    type: event.type,
    payload: event.payload,
    timeMs: record.timeMs,
    commandId: record.commandId,
    metadata: event.metadata,
  }));
}
