import { compareEntries, entryKey, type ParkedEntry, type ParkedEventStore } from "./parked-event-store";

/**
 * Parked events in memory only: what a gateway started without a parked-event store (GatewayOptions.parkedEvents)
 * keeps, for embedding and tests. They do not survive a restart; the gateway's command line always opens a durable
 * store (embedded or MongoDB).
 */
export class VolatileParkedEventStore implements ParkedEventStore {
  private readonly entries = new Map<string, ParkedEntry>();

  async park(entries: readonly ParkedEntry[]): Promise<void> {
    for (const entry of entries) {
      const key = entryKey(entry.consumer, entry.position);
      if (!this.entries.has(key)) this.entries.set(key, { ...entry });
    }
  }

  async recordFailure(consumer: string, position: number, error: string, attempts: number): Promise<void> {
    const entry = this.entries.get(entryKey(consumer, position));
    if (entry !== undefined) Object.assign(entry, { error, attempts });
  }

  async remove(consumer: string, positions: readonly number[]): Promise<void> {
    for (const position of positions) this.entries.delete(entryKey(consumer, position));
  }

  async removeConsumers(consumers: readonly string[]): Promise<void> {
    const gone = new Set(consumers);
    for (const [key, entry] of this.entries) if (gone.has(entry.consumer)) this.entries.delete(key);
  }

  async all(): Promise<ParkedEntry[]> {
    return [...this.entries.values()].map((entry) => ({ ...entry })).sort(compareEntries);
  }

  async close(): Promise<void> {}
}
