import { status } from "@grpc/grpc-js";
import { MeshError, Reason, boundedText } from "@recq-mesh/protocol";
import type { ParkedEntry, ParkedEventStore } from "./parked-event-store";

/** An aggregate as the dead-event queue keys its chains: type and id. */
export function aggregateKey(aggregateType: string, aggregateId: string): string {
  return `${aggregateType}\u0000${aggregateId}`;
}

/**
 * The parked events of every consumer, in memory as chains (one per consumer and aggregate, in position order),
 * over the durable ParkedEventStore. An aggregate with a chain is blocked for its consumer. The index changes at
 * once on each call (so the hub parks the next event of a just-blocked aggregate instead of sending it), and each
 * call's promise resolves once the change is durable. Rebuilt from the store at start.
 */
export interface ParkedChainsLimits {
  /** RECQ_MAX_PARKED_EVENTS_PER_CONSUMER. */
  maxPerConsumer: number;
  /** RECQ_MAX_PARKED_ERROR_BYTES: an entry's error text is kept to it. */
  maxErrorBytes: number;
}

export class ParkedChains {
  private readonly consumers = new Map<string, Map<string, ParkedEntry[]>>();
  private readonly counts = new Map<string, number>();
  private readonly changeListeners: ((consumer: string) => void)[] = [];

  private constructor(
    private readonly store: ParkedEventStore,
    private readonly limits: ParkedChainsLimits,
  ) {}

  static async open(store: ParkedEventStore, limits: ParkedChainsLimits): Promise<ParkedChains> {
    const chains = new ParkedChains(store, limits);
    // Entries kept before the cap (or under a larger one) are held to it too: a page of them stays bounded.
    for (const entry of await store.all()) chains.hold({ ...entry, error: chains.errorText(entry.error) });
    return chains;
  }

  /** Calls `listener` with a consumer's key each time its parked events change (health follows them). */
  onChange(listener: (consumer: string) => void): void {
    this.changeListeners.push(listener);
  }

  /**
   * A consumer's error text as kept: at most RECQ_MAX_PARKED_ERROR_BYTES, cut between characters with a note. The
   * consumer's message is at most the link's message limit, and up to RECQ_MAX_PARKED_EVENTS_PER_CONSUMER are kept.
   */
  errorText(error: string): string {
    return boundedText(error, this.limits.maxErrorBytes);
  }

  isBlocked(consumer: string, aggregate: string): boolean {
    return this.consumers.get(consumer)?.has(aggregate) ?? false;
  }

  count(consumer: string): number {
    return this.counts.get(consumer) ?? 0;
  }

  /** The consumer's chains, by aggregate key, each in position order. */
  chainsOf(consumer: string): ReadonlyMap<string, readonly ParkedEntry[]> {
    return this.consumers.get(consumer) ?? new Map<string, ParkedEntry[]>();
  }

  chain(consumer: string, aggregate: string): readonly ParkedEntry[] {
    return this.consumers.get(consumer)?.get(aggregate) ?? [];
  }

  /** Every parked entry of the consumer, in position order. */
  entriesOf(consumer: string): ParkedEntry[] {
    return [...this.chainsOf(consumer).values()].flat().sort((a, b) => a.position - b.position);
  }

  /**
   * Parks the entries of one consumer (those not held yet). Refused with RESOURCE_EXHAUSTED, nothing parked, when
   * the consumer would hold more than its limit.
   */
  park(consumer: string, entries: readonly ParkedEntry[]): Promise<void> {
    const fresh = entries.filter((entry) => !this.holds(consumer, entry.position, entry)).map((entry) => ({ ...entry, error: this.errorText(entry.error) }));
    if (this.count(consumer) + fresh.length > this.limits.maxPerConsumer) {
      throw new MeshError(
        status.RESOURCE_EXHAUSTED,
        `consumer ${consumer} holds ${this.count(consumer)} parked events and may hold no more than ${this.limits.maxPerConsumer} (RECQ_MAX_PARKED_EVENTS_PER_CONSUMER): it is stopped until parked events are retried or skipped`,
        Reason.PARKED_EVENTS_FULL,
      );
    }
    for (const entry of fresh) this.hold(entry);
    return this.store.park(fresh).catch((error: unknown) => {
      // Not durable: the index must not claim what the store does not hold.
      this.drop(consumer, fresh.map((entry) => entry.position));
      throw error;
    });
  }

  async recordFailure(consumer: string, position: number, error: string, attempts: number): Promise<void> {
    const entry = this.entriesOf(consumer).find((held) => held.position === position);
    if (entry === undefined) return;
    error = this.errorText(error);
    entry.error = error;
    entry.attempts = attempts;
    await this.store.recordFailure(consumer, position, error, attempts);
  }

  /** Deletes entries; resolves with the aggregates whose chain this emptied (they are unblocked). */
  async remove(consumer: string, positions: readonly number[]): Promise<string[]> {
    const unblocked = this.drop(consumer, positions);
    await this.store.remove(consumer, positions);
    return unblocked;
  }

  /** The consumer keys that hold parked events. */
  consumerKeys(): string[] {
    return [...this.consumers.keys()];
  }

  /**
   * Deletes every entry of these consumers; resolves with how many were held once the deletion is durable. The index
   * forgets them at once (a failed deletion leaves them in the store only, to be read again at the next start).
   */
  async forget(consumers: readonly string[]): Promise<number> {
    let held = 0;
    for (const consumer of consumers) {
      held += this.count(consumer);
      this.consumers.delete(consumer);
      this.counts.delete(consumer);
      this.changed(consumer);
    }
    await this.store.removeConsumers(consumers);
    return held;
  }

  private holds(consumer: string, position: number, entry: ParkedEntry): boolean {
    return this.chain(consumer, aggregateKey(entry.aggregateType, entry.aggregateId)).some((held) => held.position === position);
  }

  private hold(entry: ParkedEntry): void {
    const chains = this.consumers.get(entry.consumer) ?? new Map<string, ParkedEntry[]>();
    this.consumers.set(entry.consumer, chains);
    const key = aggregateKey(entry.aggregateType, entry.aggregateId);
    const chain = chains.get(key) ?? [];
    chains.set(key, chain);
    chain.push({ ...entry });
    chain.sort((a, b) => a.position - b.position);
    this.counts.set(entry.consumer, this.count(entry.consumer) + 1);
    this.changed(entry.consumer);
  }

  private changed(consumer: string): void {
    for (const listener of this.changeListeners) listener(consumer);
  }

  private drop(consumer: string, positions: readonly number[]): string[] {
    const chains = this.consumers.get(consumer);
    if (chains === undefined) return [];
    const gone = new Set(positions);
    const emptied: string[] = [];
    for (const [key, chain] of chains) {
      const kept = chain.filter((entry) => !gone.has(entry.position));
      if (kept.length === chain.length) continue;
      this.counts.set(consumer, this.count(consumer) - (chain.length - kept.length));
      if (kept.length === 0) {
        chains.delete(key);
        emptied.push(key);
      } else {
        chains.set(key, kept);
      }
    }
    if (chains.size === 0) {
      this.consumers.delete(consumer);
      this.counts.delete(consumer);
    }
    this.changed(consumer);
    return emptied;
  }
}
