import type { AggregateHistory, SnapshotRecord, StoredEvent } from "./event-store";
import type { CommitRecord } from "./journal-record";

/** One aggregate's stream: its events in sequence order (index = sequence - 1) and its latest snapshot. */
interface AggregateStream {
  events: StoredEvent[];
  snapshot: SnapshotRecord | undefined;
}

/** A Map key for (aggregateType, aggregateId); the length prefix keeps distinct pairs distinct. */
export function aggregateKey(aggregateType: string, aggregateId: string): string {
  return `${aggregateType.length}:${aggregateType}:${aggregateId}`;
}

/**
 * The committed (durable) events, indexed by global position and by aggregate.
 *
 * Every event is kept in memory, payloads included: simple and fast, and acceptable for the embedded store's use
 * (development, tests, small deployments). Its memory grows with the journal; a large system uses MongoDB.
 */
export class EventIndex {
  /** All events; the event at position p is at index p - 1, so `readAll` is a slice. */
  private readonly events: StoredEvent[] = [];
  private readonly streams = new Map<string, AggregateStream>();

  /** Position of the last committed event (0 when empty). */
  get head(): number {
    return this.events.length;
  }

  sequenceOf(key: string): number {
    return this.streams.get(key)?.events.length ?? 0;
  }

  /**
   * Adds a commit's events and snapshot. Throws if the record does not continue the index exactly (dense
   * positions and sequences): the live store orders records so it never does, so on replay it means damage.
   */
  apply(record: CommitRecord): StoredEvent[] {
    if (record.aggregateId === "") {
      this.checkOutcomeOnly(record);
      return [];
    }
    const key = aggregateKey(record.aggregateType, record.aggregateId);
    this.checkContinues(record, key);
    const stream = this.streamFor(key, record.events.length > 0 || record.snapshot !== undefined);
    const stored = record.events.map((event, index) => this.toStored(record, event, index));
    for (const event of stored) {
      this.events.push(event);
      stream?.events.push(event);
    }
    if (stream !== undefined && record.snapshot !== undefined) stream.snapshot = record.snapshot;
    return stored;
  }

  history(aggregateType: string, aggregateId: string): AggregateHistory {
    const stream = this.streams.get(aggregateKey(aggregateType, aggregateId));
    if (stream === undefined) return { events: [], sequence: 0 };
    const events = stream.events.slice(stream.snapshot?.sequence ?? 0);
    const history: AggregateHistory = { events, sequence: stream.events.length };
    if (stream.snapshot !== undefined) history.snapshot = stream.snapshot;
    return history;
  }

  /** Events with position > `afterPosition`, at most `limit`. */
  readAll(afterPosition: number, limit: number): StoredEvent[] {
    const start = Math.max(0, Math.floor(afterPosition));
    const count = Math.max(0, Math.floor(limit));
    return this.events.slice(start, start + count);
  }

  private checkContinues(record: CommitRecord, key: string): void {
    const count = record.events.length;
    const current = this.sequenceOf(key);
    const positionContinues = count > 0 ? record.position === this.head + count : record.position <= this.head;
    if (!positionContinues || record.sequence !== current + count) {
      throw new Error(
        `command ${record.commandId} claims position ${record.position} and sequence ${record.sequence} for ${count} events, ` +
          `but the head is ${this.head} and ${record.aggregateType}/${record.aggregateId} is at ${current}`,
      );
    }
    if (record.snapshot !== undefined && record.snapshot.sequence !== record.sequence) {
      throw new Error(`command ${record.commandId} carries a snapshot at ${record.snapshot.sequence}, not at ${record.sequence}`);
    }
  }

  private checkOutcomeOnly(record: CommitRecord): void {
    if (record.events.length > 0 || record.snapshot !== undefined || record.sequence !== 0 || record.position > this.head) {
      throw new Error(`command ${record.commandId} has no aggregate but carries events, a snapshot, a sequence or a future position`);
    }
  }

  private streamFor(key: string, create: boolean): AggregateStream | undefined {
    let stream = this.streams.get(key);
    if (stream === undefined && create) {
      stream = { events: [], snapshot: undefined };
      this.streams.set(key, stream);
    }
    return stream;
  }

  private toStored(record: CommitRecord, event: CommitRecord["events"][number], index: number): StoredEvent {
    const count = record.events.length;
    return {
      position: record.position - count + 1 + index,
      aggregateType: record.aggregateType,
      aggregateId: record.aggregateId,
      sequence: record.sequence - count + 1 + index,
      type: event.type,
      payload: event.payload,
      timeMs: record.timeMs,
      commandId: record.commandId,
      metadata: event.metadata,
    };
  }
}
