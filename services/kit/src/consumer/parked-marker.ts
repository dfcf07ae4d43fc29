/**
 * The checkpoint under which a consumer records a redriven (parked, then retried) event at `position` as handled:
 * the consumer's own checkpoint is already past it and must not move, and a second delivery of the event must
 * change nothing. A projection commits the event's writes under it; a handler with a CheckpointStore (an observer,
 * a saga) can read it before handling and write it after.
 */
export function parkedMarker(consumer: string, position: number): string {
  return `${consumer}#parked:${position}`;
}
