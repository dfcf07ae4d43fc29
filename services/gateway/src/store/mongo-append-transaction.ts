import { randomUUID } from "node:crypto";
import { ReadConcern, ReadPreference, WriteConcern, type ClientSession, type Collection, type MongoClient, type TransactionOptions, type UpdateFilter } from "mongodb";
import type { CausalReads } from "@recq-mesh/protocol/mongodb";
import { readSequences } from "./mongo-aggregate-sequences";
import { batchWrites, planAppends, type AppendPlan, type BatchWrites, type QueuedAppend } from "./mongo-append-plan";
import { POSITION_COUNTER_ID, type CounterDocument, type EventDocument, type OutcomeDocument, type SnapshotDocument } from "./mongo-event-documents";
import type { HeldBatch } from "./mongo-event-store-options";

export interface EventStoreCollections {
  events: Collection<EventDocument>;
  counters: Collection<CounterDocument>;
  outcomes: Collection<OutcomeDocument>;
  snapshots: Collection<SnapshotDocument>;
}

export interface AppendTransactionContext {
  client: MongoClient;
  collections: EventStoreCollections;
  reads: CausalReads;
  outcomeRetentionMs: number;
  /** How long one batch may take to commit, retries included (see `runAppendTransaction`). */
  commitTimeoutMs: number;
  beforeCommit: ((batch: HeldBatch) => Promise<void>) | undefined;
  afterCommit: ((batch: HeldBatch) => Promise<void>) | undefined;
}

/** Where the last attempt of a transaction was when it failed, so that a write error's index can be traced to an append. */
export interface BatchAttempt {
  stage: "read" | "events" | "outcomes" | "snapshots" | "hook" | "commit";
  writes: BatchWrites | undefined;
  /** The attempt's id, written into each of its outcome documents: how a commit whose result is unknown is settled. */
  batchId: string | undefined;
}

/**
 * A snapshot of majority-committed data, committed with majority write concern: an acknowledged append survives
 * a failover, and the sequences the transaction decides on are ones no rollback can take back.
 */
const WTIMEOUT_MARGIN_MS = 1000;

function appendTransaction(commitTimeoutMs: number): TransactionOptions {
  return {
    readConcern: new ReadConcern("snapshot"),
    // The driver gives a commit without its own wtimeout one of 10 s, and treats its expiry as a commit to retry
    // (UnknownTransactionCommitResult, for up to 120 s): past the commit's maxTimeMS, so that the bound decides.
    writeConcern: new WriteConcern("majority", commitTimeoutMs + WTIMEOUT_MARGIN_MS),
    readPreference: ReadPreference.primary,
    maxCommitTimeMS: commitTimeoutMs,
  };
}

/** A batch that ran out of its commit time before an attempt could start; nothing of it was committed. */
export class CommitTimeoutError extends Error {
  constructor(commitTimeoutMs: number, attempts: number) {
    super(`the transaction did not commit within ${commitTimeoutMs} ms (commitTimeoutMs) after ${attempts} attempts; nothing of it was stored`);
    this.name = "CommitTimeoutError";
  }
}

/**
 * Stores one group-commit batch in one transaction, by the book (`withTransaction`: retried with backoff on
 * TransientTransactionError, the commit retried on UnknownTransactionCommitResult, for up to 120 s):
 * read the sequences → decide every append → `$inc` the position counter by the batch's event count → insert the
 * events, record the outcomes, replace the snapshots → commit.
 *
 * How long a batch may take is bounded by `commitTimeoutMs`, as `withTransaction` alone would take up to 120 s and a
 * majority write concern with no timeout waits for ever without a majority (a PSA set with its secondary down):
 * - each commit is sent with `maxTimeMS` = `commitTimeoutMs` (`maxCommitTimeMS`), which bounds its wait for the
 *   majority too; the server then answers MaxTimeMSExpired, which `withTransaction` does not retry (the result of
 *   that commit is unknown: it may have committed on the primary);
 * - no attempt starts once `commitTimeoutMs` has passed since the first: a `CommitTimeoutError` (not a driver
 *   error, so `withTransaction` aborts and gives it up) ends the retries after write conflicts.
 * So the callers wait at most about twice `commitTimeoutMs` (an attempt begun just in time, then its commit), and
 * `close()`, which waits for the batch in flight, returns. Only the driver's own retries of a commit after a
 * network error keep its 120 s bound.
 *
 * Why positions never skip: the counter document is written by every transaction that appends events, so two
 * such transactions cannot both commit while they overlap. The second one's write to the counter conflicts with
 * the first (WriteConflict, a transient error) and the whole second transaction runs again, from a snapshot that
 * includes the first's commit. So a transaction holding positions n..m is the only one that can commit positions
 * until it commits or aborts; on abort its `$inc` is undone with everything else. Positions come out dense and in
 * commit order, and a reader at `position > checkpoint` never passes one that commits later.
 *
 * Why an append without events cannot be acknowledged on a stale expected sequence: its decision rests on the
 * aggregate's sequence read from the snapshot, but it writes no event, and snapshot isolation detects only
 * write-write conflicts. Writing only its snapshot and outcome, it could commit after another transaction moved the
 * aggregate on since that read (write skew: a snapshot acknowledged at sequence s while s + 1 exists). So a batch
 * that takes no positions but checks an aggregate's sequence writes the counter document too, and must change it
 * (a write that changes nothing is a no-op and conflicts with nothing): it `$inc`s the counter's `sequenceChecks`.
 * Every transaction that appends events writes that document, so the two conflict and the later one runs again,
 * from a snapshot with the other's events. The counter rather than a document per aggregate: appending
 * transactions are serialised on it already, so this adds no document, no index and no read.
 */
export async function runAppendTransaction(context: AppendTransactionContext, appends: readonly QueuedAppend[], attempt: BatchAttempt): Promise<BatchWrites> {
  const session = context.client.startSession();
  const deadline = performance.now() + context.commitTimeoutMs;
  let attempts = 0;
  let held: HeldBatch | undefined;
  try {
    const writes = await session.withTransaction(async (transaction) => {
      // Reset first: what the last attempt left must not describe this one, even if it never starts.
      attempt.stage = "read";
      attempt.writes = undefined;
      attempt.batchId = undefined;
      if (attempts > 0 && performance.now() >= deadline) throw new CommitTimeoutError(context.commitTimeoutMs, attempts);
      attempts += 1;
      attempt.batchId = randomUUID();
      const plan = planAppends(appends, await readSequences(context.collections.events, appends, transaction));
      const basePosition = await takePositions(context.collections.counters, counterUpdate(appends, plan), plan.eventCount, transaction);
      const recordedAt = new Date();
      const batch = batchWrites(appends, plan, basePosition, recordedAt);
      attempt.writes = batch;
      await writeBatch(context, batch, recordedAt, transaction, attempt);
      attempt.stage = "hook";
      held = heldBatch(appends, batch, basePosition);
      await context.beforeCommit?.(held);
      attempt.stage = "commit";
      return batch;
    }, appendTransaction(context.commitTimeoutMs));
    context.reads.observe(session);
    if (held !== undefined) await context.afterCommit?.(held);
    return writes;
  } finally {
    await session.endSession();
  }
}

/**
 * How a planned batch writes the counter document: `$inc` its position by the batch's events; without events,
 * `$inc` its `sequenceChecks` if an append checks its aggregate's sequence (see `runAppendTransaction`); else
 * nothing (undefined: the counter is only read).
 */
export function counterUpdate(appends: readonly QueuedAppend[], plan: AppendPlan): UpdateFilter<CounterDocument> | undefined {
  if (plan.eventCount > 0) return { $inc: { position: plan.eventCount } };
  const checksSequence = plan.decisions.some((decision, index) => decision.kind === "append" && (appends[index]?.request.aggregateId ?? "") !== "");
  return checksSequence ? { $inc: { position: 0, sequenceChecks: 1 } } : undefined;
}

/** Writes the counter with `update` (or only reads it); returns the head before the batch's `count` positions. */
async function takePositions(counters: Collection<CounterDocument>, update: UpdateFilter<CounterDocument> | undefined, count: number, session: ClientSession): Promise<number> {
  if (update === undefined) return (await counters.findOne({ _id: POSITION_COUNTER_ID }, { session }))?.position ?? 0;
  const counter = await counters.findOneAndUpdate(
    { _id: POSITION_COUNTER_ID },
    update,
    { session, upsert: true, returnDocument: "after" },
  );
  if (counter === null) throw new Error("the position counter upsert returned no document");
  return counter.position - count;
}

async function writeBatch(context: AppendTransactionContext, batch: BatchWrites, recordedAt: Date, session: ClientSession, attempt: BatchAttempt): Promise<void> {
  const { events, outcomes, snapshots } = context.collections;
  attempt.stage = "events";
  if (batch.events.length > 0) await events.insertMany(batch.events, { session, ordered: true });
  attempt.stage = "outcomes";
  // An outcome still within retention keeps its command id: the filter then matches nothing, the upsert inserts
  // and the unique _id refuses it (the caller reports the duplicate command). An expired one is replaced.
  const expiredBefore = new Date(recordedAt.getTime() - context.outcomeRetentionMs);
  if (batch.outcomes.length > 0) {
    const replacements = batch.outcomes.map((outcome) => ({
      replaceOne: { filter: { _id: outcome._id, recordedAt: { $lte: expiredBefore } }, replacement: { ...outcome, batchId: attempt.batchId }, upsert: true },
    }));
    await outcomes.bulkWrite(replacements, { session, ordered: true });
  }
  attempt.stage = "snapshots";
  if (batch.snapshots.length > 0) {
    const replacements = batch.snapshots.map((snapshot) => ({ replaceOne: { filter: { _id: snapshot._id }, replacement: snapshot, upsert: true } }));
    await snapshots.bulkWrite(replacements, { session, ordered: true });
  }
}

function heldBatch(appends: readonly QueuedAppend[], batch: BatchWrites, basePosition: number): HeldBatch {
  const commandIds = appends.filter((_, index) => batch.results[index]?.kind === "appended").map(({ request }) => request.commandId);
  return { commandIds, positions: batch.head > basePosition ? [basePosition + 1, batch.head] : undefined };
}
