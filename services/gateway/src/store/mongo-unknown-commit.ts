import { MongoError, MongoErrorLabel, type ClientSession, type Collection } from "mongodb";
import type { AppendResult } from "./event-store";
import type { BatchWrites } from "./mongo-append-plan";
import type { OutcomeDocument } from "./mongo-event-documents";

/**
 * Whether a batch's transaction failed at its commit without saying whether it committed: the driver's
 * `UnknownTransactionCommitResult` after its retries (a network error, a write concern timeout), `MaxTimeMSExpired`
 * at commit (the driver labels it so too), or a write concern error the driver gives up on unlabelled
 * (`UnsatisfiableWriteConcern`, `UnknownReplWriteConcern`: the primary had applied the commit). Such a batch may
 * be stored, so it is settled by reading (`settleUnknownCommit`). A `TransientTransactionError` is a definite
 * abort, and an error before the commit (or a `CommitTimeoutError`, which is not a driver error) stored nothing.
 */
export function commitResultUnknown(error: unknown, stage: string): boolean {
  if (stage !== "commit" || !(error instanceof MongoError)) return false;
  return !error.hasErrorLabel(MongoErrorLabel.TransientTransactionError);
}

/** What each append of a batch whose commit result was unknown turned out to be. */
export type SettledAppend = { kind: "answered"; result: AppendResult } | { kind: "not-stored" };

/**
 * Reads, with majority read concern, which outcome documents of the batch's last attempt are there. The batch's
 * `batchId` — random, new for each attempt, written into each of its outcome documents — is what "this batch's
 * data" means: a concurrent duplicate of a command id (through another gateway) may have committed an outcome
 * with the same command id, even the same position and sequence (positions are handed out again after an
 * abort), but never with this batch's id.
 */
export async function readSettledBatch(
  outcomes: Collection<OutcomeDocument>,
  writes: BatchWrites,
  batchId: string,
  session: ClientSession,
): Promise<SettledAppend[]> {
  const commandIds = writes.outcomes.map((outcome) => outcome._id);
  const found = commandIds.length === 0 ? [] : await outcomes.find({ _id: { $in: commandIds }, batchId }, { session, projection: { _id: 1 } }).toArray();
  return settleAppends(writes, new Set(found.map((outcome) => outcome._id)));
}

/**
 * An append whose outcome committed is answered as appended, with its ack; one whose outcome is not there was not
 * stored (or not yet by a majority: a retry with the same command id then gets its outcome if it does commit).
 * An append the batch decided was a conflict wrote nothing: its answer holds either way, as it was decided on
 * majority-committed data.
 */
export function settleAppends(writes: BatchWrites, committed: ReadonlySet<string>): SettledAppend[] {
  return writes.results.map((result): SettledAppend => {
    if (result.kind === "conflict") return { kind: "answered", result };
    return committed.has(result.ack.commandId) ? { kind: "answered", result } : { kind: "not-stored" };
  });
}
