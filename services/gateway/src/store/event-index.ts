import { EventLocations, type RecordLocation, type ScanStart } from "./event-locations";
import type { CommitRecord } from "./journal-record";

/** One aggregate's stream, without its payloads: its sequence, where its latest snapshot is, and what follows it. */
export interface AggregateStream {
  sequence: number;
  /** The record holding the latest snapshot. */
  snapshot: RecordLocation | undefined;
  /**
   * The records holding the events after the latest snapshot (all of them without one), in sequence order, as
   * flat pairs: offset, length, offset, length, …
   */
  afterSnapshot: number[];
}

/** What `readAggregate` must read: the snapshot's record and the records of the events after it. */
export interface AggregatePlan {
  sequence: number;
  snapshot: RecordLocation | undefined;
  records: RecordLocation[];
}

/** A Map key for (aggregateType, aggregateId); the length prefix keeps distinct pairs distinct. */
export function aggregateKey(aggregateType: string, aggregateId: string): string {
  return `${aggregateType.length}:${aggregateType}:${aggregateId}`;
}

/**
 * The committed (durable) events, indexed by global position and by aggregate, without their contents: those stay
 * in the journal and are read by location (see `JournalReader`, `RecordCache`). By position the index is sparse
 * (`EventLocations`: 1/8 byte per event); by aggregate it holds, per aggregate, its key, a small object, and 16
 * bytes for each record after its latest snapshot. So it grows with the aggregates and what follows their
 * snapshots, not with the history.
 */
export class EventIndex {
  /** An index over these parts, as a checkpoint restores them; empty by default. */
  constructor(
    private readonly locations = new EventLocations(),
    private readonly streams = new Map<string, AggregateStream>(),
  ) {}

  /** What a checkpoint saves: the locations by position, and the streams by aggregate key. */
  parts(): { locations: EventLocations; streams: ReadonlyMap<string, AggregateStream> } {
    return { locations: this.locations, streams: this.streams };
  }

  /** Position of the last committed event (0 when empty). */
  get head(): number {
    return this.locations.size;
  }

  /** Aggregates with at least one event. */
  get aggregates(): number {
    return this.streams.size;
  }

  /** Bytes of the sparse position index's arrays (the streams come on top, per aggregate). */
  get positionIndexBytes(): number {
    return this.locations.allocatedBytes;
  }

  sequenceOf(key: string): number {
    return this.streams.get(key)?.sequence ?? 0;
  }

  /**
   * Indexes a commit's events and snapshot, held by the record at `location`. Throws if the record does not
   * continue the index exactly (dense positions and sequences): the live store orders records so it never does,
   * so on replay it means damage.
   */
  apply(record: CommitRecord, location: RecordLocation): void {
    if (record.aggregateId === "") {
      this.checkOutcomeOnly(record);
      return;
    }
    const key = aggregateKey(record.aggregateType, record.aggregateId);
    this.checkContinues(record, key);
    const count = record.events.length;
    if (count === 0 && record.snapshot === undefined) return;
    const stream = this.streamFor(key);
    this.locations.add(count, location.offset);
    stream.sequence = record.sequence;
    if (record.snapshot !== undefined) {
      stream.snapshot = { offset: location.offset, length: location.length };
      stream.afterSnapshot = [];
    } else {
      stream.afterSnapshot.push(location.offset, location.length);
    }
  }

  /** Where the aggregate's latest snapshot and the events after it are. */
  plan(aggregateType: string, aggregateId: string): AggregatePlan {
    const stream = this.streams.get(aggregateKey(aggregateType, aggregateId));
    if (stream === undefined) return { sequence: 0, snapshot: undefined, records: [] };
    const records: RecordLocation[] = [];
    for (let index = 0; index < stream.afterSnapshot.length; index += 2) {
      records.push({ offset: stream.afterSnapshot[index]!, length: stream.afterSnapshot[index + 1]! });
    }
    return { sequence: stream.sequence, snapshot: stream.snapshot, records };
  }

  /** Where to start reading the journal for the event at `position` (1 ..= head). */
  scanStart(position: number): ScanStart {
    return this.locations.scanStart(position);
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

  private streamFor(key: string): AggregateStream {
    let stream = this.streams.get(key);
    if (stream === undefined) {
      stream = { sequence: 0, snapshot: undefined, afterSnapshot: [] };
      this.streams.set(key, stream);
    }
    return stream;
  }
}
