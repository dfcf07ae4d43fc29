/** What the dead-event queue needs to know of an event sent on a consumer stream. */
export interface SentEvent {
  aggregateType: string;
  aggregateId: string;
  eventType: string;
}

/**
 * The events a consumer stream has sent and the consumer has not yet reported processed, in position order: what a
 * failure report is checked against, and where the events of the failed aggregate sent after it are found (they
 * must be parked behind it). Bounded by the stream's permits.
 */
export class SentEvents {
  private readonly events = new Map<number, SentEvent>();

  note(position: number, event: SentEvent): void {
    this.events.set(position, event);
  }

  get(position: number): SentEvent | undefined {
    return this.events.get(position);
  }

  /** The consumer's checkpoint reached `position`: what it covers is no longer in question. */
  processedThrough(position: number): void {
    // A Map iterates in insertion order, which is position order here.
    for (const sent of this.events.keys()) {
      if (sent > position) return;
      this.events.delete(sent);
    }
  }

  /** Positions sent after `position` of the same aggregate, in order. */
  laterOfAggregate(position: number, aggregateType: string, aggregateId: string): number[] {
    const later: number[] = [];
    for (const [sent, event] of this.events) {
      if (sent > position && event.aggregateType === aggregateType && event.aggregateId === aggregateId) later.push(sent);
    }
    return later;
  }
}
