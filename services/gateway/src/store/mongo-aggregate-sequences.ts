import type { ClientSession, Collection } from "mongodb";
import { aggregateKey } from "./event-index";
import type { QueuedAppend } from "./mongo-append-plan";
import type { EventDocument } from "./mongo-event-documents";

interface Probe {
  aggregateType: string;
  aggregateId: string;
  /** The expected sequence of the batch's first append to the aggregate. */
  expected: number;
}

/**
 * The current sequence of every aggregate a batch appends to, read in the transaction's snapshot with one query.
 *
 * Sequences are dense, so an aggregate is at exactly `expected` when `expected` exists (or is 0) and
 * `expected + 1` does not: the query asks the unique index for those two keys per aggregate, whatever the length
 * of its stream. Only an aggregate that moved on, or a future expected sequence, costs a second, indexed read of
 * its last sequence.
 */
export async function readSequences(events: Collection<EventDocument>, appends: readonly QueuedAppend[], session: ClientSession): Promise<Map<string, number>> {
  const probes = new Map<string, Probe>();
  for (const { request } of appends) {
    if (request.aggregateId === "") continue;
    const key = aggregateKey(request.aggregateType, request.aggregateId);
    if (!probes.has(key)) probes.set(key, { aggregateType: request.aggregateType, aggregateId: request.aggregateId, expected: request.expectedSequence });
  }
  const sequences = new Map<string, number>();
  if (probes.size === 0) return sequences;
  const found = await events
    .find(
      {
        $or: [...probes.values()].map(({ aggregateType, aggregateId, expected }) => ({
          aggregateType,
          aggregateId,
          sequence: { $in: expected === 0 ? [1] : [expected, expected + 1] },
        })),
      },
      { session, projection: { _id: 0, aggregateType: 1, aggregateId: 1, sequence: 1 } },
    )
    .toArray();
  const present = new Set(found.map((event) => `${aggregateKey(event.aggregateType, event.aggregateId)}#${event.sequence}`));
  for (const [key, probe] of probes) {
    const atExpected = (probe.expected === 0 || present.has(`${key}#${probe.expected}`)) && !present.has(`${key}#${probe.expected + 1}`);
    sequences.set(key, atExpected ? probe.expected : await latestSequence(events, probe.aggregateType, probe.aggregateId, session));
  }
  return sequences;
}

/** The aggregate's last sequence (0 without events), from the unique index. */
export async function latestSequence(events: Collection<EventDocument>, aggregateType: string, aggregateId: string, session: ClientSession): Promise<number> {
  const last = await events.findOne({ aggregateType, aggregateId }, { session, sort: { sequence: -1 }, projection: { _id: 0, sequence: 1 } });
  return last?.sequence ?? 0;
}
