/** One event a consumer could not handle (or one waiting behind it), parked for that consumer and its aggregate. */
export interface ParkedEntry {
  /** The consumer key (consumer-key.ts). */
  consumer: string;
  position: number;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  /** What the handler threw; empty for an event parked behind another, never tried. */
  error: string;
  attempts: number;
  parkedAtMs: number;
}

/**
 * The port of the dead-event queue's System State Store: parked events, durably. Adapters:
 * `embedded-parked-event-store.ts` (a journal file of its own in the data folder) and `mongo-parked-event-store.ts`
 * (a collection beside the event store's). One contract suite (test/dead-events/parked-event-store.suite.ts) runs
 * against each. The gateway reads them all at start (their number is bounded per consumer by
 * RECQ_MAX_PARKED_EVENTS_PER_CONSUMER) and keeps its index of blocked aggregates in memory.
 */
export interface ParkedEventStore {
  /** Records each entry durably; an entry already held for (consumer, position) is kept as it is (a repeat is harmless). */
  park(entries: readonly ParkedEntry[]): Promise<void>;
  /** A redriven event failed again: its error and attempts are replaced. Nothing when it is not parked. */
  recordFailure(consumer: string, position: number, error: string, attempts: number): Promise<void>;
  /** Deletes the entries at these positions of the consumer; those not held are ignored. */
  remove(consumer: string, positions: readonly number[]): Promise<void>;
  /** Deletes every entry of these consumers (a projection's generations left behind by a rebuild); none held is no error. */
  removeConsumers(consumers: readonly string[]): Promise<void>;
  /** Every entry held, of every consumer, in (consumer, position) order. */
  all(): Promise<ParkedEntry[]>;
  close(): Promise<void>;
}

/** (consumer, position): the identity of an entry. */
export function entryKey(consumer: string, position: number): string {
  return `${consumer}\u0000${position}`;
}

export function compareEntries(a: ParkedEntry, b: ParkedEntry): number {
  return a.consumer < b.consumer ? -1 : a.consumer > b.consumer ? 1 : a.position - b.position;
}
