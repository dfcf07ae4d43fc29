import type { Collection } from "mongodb";
import { POSITION_COUNTER_ID, type CounterDocument, type EventDocument } from "./mongo-event-documents";

/**
 * Moves the position counter up to the last event's position when it is behind (and creates it there when it is
 * missing): `$max`, so it never moves a counter back, whatever else commits meanwhile. Returns true when it moved.
 *
 * A counter behind the events hands out positions that exist already, and every append transaction then fails on
 * a duplicate `_id`; this is what heals it. It is never behind through the store's own transactions (they `$inc`
 * it with the events they insert), only after events were written around the store or the counter was restored
 * from an older copy.
 */
export async function raisePositionCounter(events: Collection<EventDocument>, counters: Collection<CounterDocument>): Promise<boolean> {
  const last = await events.findOne({}, { sort: { _id: -1 }, projection: { _id: 1 } });
  const result = await counters.updateOne({ _id: POSITION_COUNTER_ID }, { $max: { position: last?._id ?? 0 } }, { upsert: true });
  return result.modifiedCount > 0 || result.upsertedCount > 0;
}
