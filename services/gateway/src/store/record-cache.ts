import type { SnapshotRecord, StoredEvent } from "./event-store";
import type { RecordLocation } from "./event-locations";
import type { CommitRecord } from "./journal-record";
import { storedEventsOf } from "./stored-events";

/** A commit record as readers want it: its events as stored, and its snapshot. */
export interface CachedRecord {
  readonly events: readonly StoredEvent[];
  readonly snapshot: SnapshotRecord | undefined;
  /** The record's bytes in the journal, frame header included: where the next record starts, for a scan. */
  readonly length: number;
}

/** What a record without events (a failure, a commit of none) is cached as: only its length, for a scan to step over it. */
const NO_EVENTS: readonly StoredEvent[] = [];

/** A cached record, linked in recency order (`older` toward the next to evict). */
interface Entry {
  readonly offset: number;
  readonly record: CachedRecord;
  readonly bytes: number;
  older: Entry | undefined;
  newer: Entry | undefined;
}

/** Estimated heap bytes of a cached record's objects besides payloads and strings (Map entry, arrays, Buffer). */
const RECORD_OVERHEAD_BYTES = 256;
/** Likewise per event: the StoredEvent object, its payload's Buffer view, its metadata object. */
const EVENT_OVERHEAD_BYTES = 256;

/**
 * The most recently committed or read commit records, least recently used evicted first, bounded by an estimate of
 * their memory (payloads, strings and object overhead): a live tail of consumers and the aggregates being worked on
 * are answered from memory, the rest from the journal. A record larger than the bound is not kept. Payloads are
 * copied into one Buffer per record, so an entry never holds on to the larger Buffer its payloads were read or
 * received in, and what is counted is what is held. Each entry knows its record's length in the journal, so a
 * consumer reading the live tail walks from record to record in memory, without reading the journal's headers.
 *
 * Recency is a linked list rather than a Map's insertion order: finding a Map's oldest entry walks past every
 * entry deleted since the Map last compacted, which made each eviction cost thousands of steps.
 */
export class RecordCache {
  private readonly entries = new Map<number, Entry>();
  private oldest: Entry | undefined;
  private newest: Entry | undefined;
  private heldBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Records held. */
  get size(): number {
    return this.entries.size;
  }

  /** Their estimated bytes, at most `maxBytes`. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** The record at `offset`, if held; `touch` makes it the most recently used. */
  get(offset: number, touch: boolean): CachedRecord | undefined {
    const entry = this.entries.get(offset);
    if (entry === undefined) return undefined;
    if (touch && entry !== this.newest) {
      this.unlink(entry);
      this.link(entry);
    }
    return entry.record;
  }

  /** Keeps the commit record at `location` as the most recently used; returns it in the form readers get. */
  add(location: RecordLocation, record: CommitRecord): CachedRecord {
    const cached = detached(record, location.length);
    this.keep(location.offset, cached, estimatedRecordBytes(record));
    return cached;
  }

  /** Keeps a record that holds no events (a failure, a commit of none), so that a scan steps over it in memory. */
  addWithoutEvents(location: RecordLocation): void {
    this.keep(location.offset, { events: NO_EVENTS, snapshot: undefined, length: location.length }, RECORD_OVERHEAD_BYTES);
  }

  private keep(offset: number, cached: CachedRecord, bytes: number): void {
    this.delete(offset);
    if (bytes > this.maxBytes) return;
    const entry: Entry = { offset, record: cached, bytes, older: undefined, newer: undefined };
    this.entries.set(offset, entry);
    this.link(entry);
    this.heldBytes += bytes;
    while (this.heldBytes > this.maxBytes && this.oldest !== undefined) this.delete(this.oldest.offset);
  }

  private delete(offset: number): void {
    const entry = this.entries.get(offset);
    if (entry === undefined) return;
    this.entries.delete(offset);
    this.unlink(entry);
    this.heldBytes -= entry.bytes;
  }

  /** Makes `entry` the newest. */
  private link(entry: Entry): void {
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = entry;
    this.newest = entry;
    this.oldest ??= entry;
  }

  private unlink(entry: Entry): void {
    if (entry.older !== undefined) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer !== undefined) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }
}

/** The record's events and snapshot with their payloads copied into one Buffer of their own. */
function detached(record: CommitRecord, length: number): CachedRecord {
  const payloads = record.events.map((event) => event.payload);
  if (record.snapshot !== undefined) payloads.push(record.snapshot.payload);
  const copies = copyInto(payloads);
  const events = storedEventsOf(record).map((event, index) => ({ ...event, payload: copies[index]! }));
  const snapshot = record.snapshot && { ...record.snapshot, payload: copies[copies.length - 1]! };
  return { events, snapshot, length };
}

function copyInto(payloads: readonly Buffer[]): Buffer[] {
  const store = Buffer.allocUnsafeSlow(payloads.reduce((sum, payload) => sum + payload.length, 0));
  let at = 0;
  return payloads.map((payload) => {
    payload.copy(store, at);
    at += payload.length;
    return store.subarray(at - payload.length, at);
  });
}

/** What a record is counted as against `maxBytes`. */
export function estimatedRecordBytes(record: CommitRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES + 2 * (record.commandId.length + record.aggregateType.length + record.aggregateId.length);
  for (const event of record.events) {
    bytes += EVENT_OVERHEAD_BYTES + event.payload.length + 2 * event.type.length;
    for (const key of Object.keys(event.metadata)) bytes += 2 * (key.length + (event.metadata[key]?.length ?? 0)) + 32;
  }
  if (record.snapshot !== undefined) bytes += EVENT_OVERHEAD_BYTES + record.snapshot.payload.length + 2 * record.snapshot.type.length;
  return bytes;
}
