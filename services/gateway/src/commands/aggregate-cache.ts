import type { EventEnvelope, Snapshot } from "@recq-mesh/protocol/gen/recq/v1/event";
import type { EventStore, SnapshotRecord, StoredEvent } from "../store/event-store";
import { LruMap } from "@recq-mesh/protocol";
import { toEnvelope } from "./envelopes";

/** What a dispatch ships with a command: the latest snapshot and the events after it, ready to encode. */
export interface CachedAggregate {
  sequence: number;
  snapshot: Snapshot | undefined;
  history: EventEnvelope[];
}

/**
 * Recently used aggregates' histories, so that a busy aggregate is not read from the store for every command.
 * Only the gateway appends (under the per-aggregate queue), so an entry stays exact; a conflict (another
 * gateway appended) evicts it.
 */
export class AggregateCache {
  private readonly entries: LruMap<string, CachedAggregate>;

  constructor(
    private readonly store: EventStore,
    capacity: number,
  ) {
    this.entries = new LruMap(capacity);
  }

  async load(aggregateType: string, aggregateId: string): Promise<CachedAggregate> {
    const key = aggregateKey(aggregateType, aggregateId);
    const cached = this.entries.get(key);
    if (cached !== undefined) return cached;
    const history = await this.store.readAggregate(aggregateType, aggregateId);
    const entry: CachedAggregate = {
      sequence: history.sequence,
      snapshot: history.snapshot && toSnapshot(history.snapshot),
      history: history.events.map(toEnvelope),
    };
    this.entries.set(key, entry);
    return entry;
  }

  /** Moves the cached aggregate past an append. */
  appended(aggregateType: string, aggregateId: string, events: StoredEvent[], snapshot: SnapshotRecord | undefined): void {
    const key = aggregateKey(aggregateType, aggregateId);
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    if (snapshot !== undefined) {
      entry.snapshot = toSnapshot(snapshot);
      entry.history = events.filter((e) => e.sequence > snapshot.sequence).map(toEnvelope);
    } else {
      // Appended in place: the dispatch that shipped the old history was encoded and sent before its reply.
      for (const event of events) entry.history.push(toEnvelope(event));
    }
    entry.sequence = events.length > 0 ? events[events.length - 1]!.sequence : entry.sequence;
  }

  evict(aggregateType: string, aggregateId: string): void {
    this.entries.delete(aggregateKey(aggregateType, aggregateId));
  }
}

export function aggregateKey(aggregateType: string, aggregateId: string): string {
  return `${aggregateType}\u0000${aggregateId}`;
}

function toSnapshot(record: SnapshotRecord): Snapshot {
  return { sequence: String(record.sequence), type: record.type, payload: record.payload };
}
