/**
 * The checkpoint under which a consumer records a redriven (parked, then retried) event at `position` as handled:
 * the consumer's own checkpoint is already past it and must not move, and a second delivery of the event must
 * change nothing. A projection commits the event's writes under it; a handler with a CheckpointStore (an observer,
 * a saga) can read it before handling and write it after.
 *
 * Markers are never deleted by the kit: the consumer acknowledges a redriven event without an answer, so it cannot
 * know when the gateway's deletion of the parked entry is durable, and an entry that survives a gateway crash is
 * redriven again, when only its marker keeps it from being applied twice (docs/components.md, dead-event queue).
 */
export function parkedMarker(consumer: string, position: number): string {
  return `${consumer}#parked:${position}`;
}
