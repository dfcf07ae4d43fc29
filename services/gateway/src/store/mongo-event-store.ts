import type { MongoClient } from "mongodb";
import { CausalReads, firstWriteError, isDuplicateKey } from "@recq-mesh/protocol/mongodb";
import { validateAppend } from "./append-validation";
import { DuplicateCommandError } from "./duplicate-command-error";
import { AppendRejectedError, type AggregateHistory, type AppendRequest, type AppendResult, type CommandFailureRecord, type CommandOutcome, type EventStore, type StoredEvent } from "./event-store";
import { GroupCommitQueue, type GroupCommitItem } from "./group-commit-queue";
import { latestSequence } from "./mongo-aggregate-sequences";
import { appendSizeRefusal, measureAppend, type BatchWrites, type QueuedAppend } from "./mongo-append-plan";
import { runAppendTransaction, type AppendTransactionContext, type BatchAttempt, type EventStoreCollections } from "./mongo-append-transaction";
import { AppendWatcher } from "./mongo-append-watcher";
import { commandOutcomeOf, outcomeDocumentOf, POSITION_COUNTER_ID, snapshotKey, snapshotRecordOf, storedEventOf } from "./mongo-event-documents";
import { eventStoreCollections, prepareEventCollections } from "./mongo-event-collections";
import { raisePositionCounter } from "./mongo-position-counter";
import { commitResultUnknown, readSettledBatch, type SettledAppend } from "./mongo-unknown-commit";
import { resolveMongoStoreOptions, type MongoEventStoreOptions, type MongoEventStoreSettings } from "./mongo-event-store-options";

export type { HeldBatch, MongoEventStoreOptions } from "./mongo-event-store-options";

/** An append in the group-commit queue, with the caller waiting for it. */
interface PendingAppend extends QueuedAppend, GroupCommitItem {
  resolve(result: AppendResult): void;
}

/**
 * The System State Store on MongoDB (a replica set: transactions and change streams need one). Any number of
 * gateways may share one database.
 *
 * Appends queue for group commit: what arrives while a transaction runs goes together into the next one (at most
 * `maxBatchAppends` appends and `maxBatchBytes`), so one process runs one append transaction at a time. Each
 * transaction takes its positions from a counter document in the transaction itself, which keeps positions
 * dense and in commit order across gateways (see `runAppendTransaction`). A command's events, its outcome and
 * its snapshot commit together or not at all. A duplicate key aborts a whole transaction: the batch then runs
 * again without the append that caused it, which gets a conflict (its aggregate moved on) or a
 * `DuplicateCommandError` (its command id has an outcome already).
 *
 * Reads use majority read concern in causally consistent sessions (`CausalReads`), so a read sees every append
 * this store acknowledged before it, and nothing a failover could roll back. `readAll` refuses to pass a hole in
 * the positions: with dense positions one is a bug, and skipping it would lose an event for good.
 * Errors of the driver propagate as they are (the gateway answers UNAVAILABLE), except that an append no
 * state could accept is an `AppendRejectedError`.
 */
export class MongoEventStore implements EventStore {
  private readonly reads: CausalReads;
  private readonly queue: GroupCommitQueue<PendingAppend>;
  private readonly watcher: AppendWatcher;
  private readonly listeners = new Set<(headPosition: number) => void>();
  private notifiedHead = 0;
  private checkingHead = false;
  private checkHeadAgain = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly settings: MongoEventStoreSettings,
    private readonly client: MongoClient,
    private readonly database: string,
    private readonly collections: EventStoreCollections,
  ) {
    this.reads = new CausalReads(client);
    this.queue = new GroupCommitQueue({ maxItems: settings.maxBatchAppends, maxBytes: settings.limits.maxWriteBytes }, (batch) => this.commit(batch));
    this.watcher = new AppendWatcher(collections.counters, () => this.checkHead(), { pollIntervalMs: settings.pollIntervalMs, logger: settings.logger });
  }

  /** Creates the collections and indexes if missing (idempotent), then opens the store. */
  static async open(options: MongoEventStoreOptions): Promise<MongoEventStore> {
    const settings = resolveMongoStoreOptions(options);
    const { db, collections } = eventStoreCollections(options.client, options.database);
    await prepareEventCollections(db, collections, settings.outcomeRetentionMs);
    const store = new MongoEventStore(settings, options.client, options.database, collections);
    try {
      store.notifiedHead = await store.headPosition();
    } catch (error: unknown) {
      await store.close();
      throw error;
    }
    return store;
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    this.assertOpen();
    validateAppend(request, this.settings.limits);
    const size = measureAppend(request);
    const refusal = appendSizeRefusal(request, size, this.settings.limits.maxWriteBytes);
    if (refusal !== undefined) throw new AppendRejectedError(refusal);
    return new Promise((resolve, fail) => {
      this.queue.enqueue({ request, timeMs: Date.now(), bytes: size.bytes, batchKey: request.commandId, resolve, fail });
    });
  }

  async readAggregate(aggregateType: string, aggregateId: string): Promise<AggregateHistory> {
    this.assertOpen();
    const { events, snapshots } = this.collections;
    return this.reads.run(async (session) => {
      // The snapshot first: events appended meanwhile are then after it, never skipped.
      const snapshot = await snapshots.findOne({ _id: snapshotKey(aggregateType, aggregateId) }, { session });
      const after = snapshot?.sequence ?? 0;
      const documents = await events.find({ aggregateType, aggregateId, sequence: { $gt: after } }, { session, sort: { sequence: 1 } }).toArray();
      const stored = documents.map(storedEventOf);
      return { snapshot: snapshot === null ? undefined : snapshotRecordOf(snapshot), events: stored, sequence: stored.at(-1)?.sequence ?? after };
    });
  }

  async readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    this.assertOpen();
    if (limit <= 0) return [];
    const documents = await this.reads.run((session) =>
      this.collections.events.find({ _id: { $gt: afterPosition } }, { session, sort: { _id: 1 }, limit }).toArray(),
    );
    documents.forEach((document, index) => {
      const expected = afterPosition + index + 1;
      if (document._id !== expected) {
        throw new Error(
          `the events in ${this.database} have a hole: position ${expected} is missing before ${document._id}. ` +
            "Positions are dense by construction, so this is damage or a bug; refusing to skip it.",
        );
      }
    });
    return documents.map(storedEventOf);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    const counter = await this.reads.run((session) => this.collections.counters.findOne({ _id: POSITION_COUNTER_ID }, { session }));
    return counter?.position ?? 0;
  }

  onAppended(listener: (headPosition: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async findOutcome(commandId: string): Promise<CommandOutcome | undefined> {
    this.assertOpen();
    // The TTL monitor deletes expired outcomes only about once a minute: the retention is checked here.
    const recordedAfter = new Date(Date.now() - this.settings.outcomeRetentionMs);
    const outcome = await this.reads.run((session) => this.collections.outcomes.findOne({ _id: commandId, recordedAt: { $gt: recordedAfter } }, { session }));
    return outcome === null ? undefined : commandOutcomeOf(outcome);
  }

  async recordFailure(failure: CommandFailureRecord): Promise<void> {
    this.assertOpen();
    if (typeof failure.commandId !== "string" || failure.commandId === "") throw new Error("recordFailure needs a command id");
    const recordedAt = new Date();
    const expiredBefore = new Date(recordedAt.getTime() - this.settings.outcomeRetentionMs);
    const document = outcomeDocumentOf({ kind: "failed", ...failure }, recordedAt);
    try {
      await this.reads.run((session) =>
        this.collections.outcomes.replaceOne({ _id: failure.commandId, recordedAt: { $lte: expiredBefore } }, document, { session, upsert: true }),
      );
    } catch (error: unknown) {
      // The command id has an outcome within retention (recorded at the same time through another gateway):
      // the first outcome stays, as every repeat must get it.
      if (!isDuplicateKey(error)) throw error;
    }
  }

  /** Waits for queued appends, then stops watching; closes the client when the store owns it. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    await this.queue.whenIdle();
    await this.watcher.close();
    this.listeners.clear();
    if (this.settings.closeClient) await this.client.close();
  }

  /**
   * Stores one batch: retries it without each append that made the transaction fail on a duplicate key. A
   * duplicate among the events may instead be a position taken already (the counter behind the events): the
   * counter is then raised, once per batch, and the batch runs again whole.
   */
  private async commit(batch: PendingAppend[]): Promise<void> {
    let remaining = batch;
    let counterRaised = false;
    while (remaining.length > 0) {
      const attempt: BatchAttempt = { stage: "read", writes: undefined, batchId: undefined };
      try {
        const writes = await runAppendTransaction(this.transactionContext(), remaining, attempt);
        remaining.forEach((append, index) => append.resolve(writes.results[index] as AppendResult));
        this.notify(writes.head);
        return;
      } catch (error: unknown) {
        if (commitResultUnknown(error, attempt.stage) && attempt.writes !== undefined && attempt.batchId !== undefined) {
          await this.settleUnknownCommit(remaining, attempt.writes, attempt.batchId, error);
          return;
        }
        const offender = offendingAppend(error, attempt, remaining);
        if (offender === undefined) {
          for (const append of remaining) append.fail(notStored(append, error));
          return;
        }
        if (offender.stage === "events" && !counterRaised) {
          counterRaised = true;
          if (await this.raiseCounterIfBehind(error)) continue;
        }
        remaining = remaining.filter((append) => append !== offender.append);
        await this.settleOffender(offender.append, offender.stage, error);
      }
    }
  }

  /** After a duplicate among a batch's events: moves the counter up to the events if it is behind; true if it was. */
  private async raiseCounterIfBehind(duplicate: unknown): Promise<boolean> {
    try {
      const raised = await raisePositionCounter(this.collections.events, this.collections.counters);
      if (raised) {
        this.settings.logger?.warn("the position counter was behind the events (written around the store?): raised it to the last event's position", {
          error: duplicate instanceof Error ? duplicate.message : String(duplicate),
        });
      }
      return raised;
    } catch (error: unknown) {
      this.settings.logger?.warn("checking the position counter after a duplicate event failed", { error: error instanceof Error ? error.message : String(error) });
      return false;
    }
  }

  private async settleOffender(append: PendingAppend, stage: "events" | "outcomes", error: unknown): Promise<void> {
    const { request } = append;
    if (stage === "outcomes") {
      append.fail(new DuplicateCommandError(request.commandId));
      return;
    }
    try {
      const actual = await this.reads.run((session) => latestSequence(this.collections.events, request.aggregateType, request.aggregateId, session));
      if (actual !== request.expectedSequence) {
        append.resolve({ kind: "conflict", actualSequence: actual });
        return;
      }
      append.fail(notStored(append, error, "a position it was given exists already: the position counter is behind the events"));
    } catch (readError: unknown) {
      append.fail(notStored(append, readError));
    }
  }

  /** A commit that may or may not have happened: each append is answered by what a majority read finds. */
  private async settleUnknownCommit(batch: readonly PendingAppend[], writes: BatchWrites, batchId: string, error: unknown): Promise<void> {
    let settled: SettledAppend[];
    try {
      settled = await this.reads.run((session) => readSettledBatch(this.collections.outcomes, writes, batchId, session));
    } catch (readError: unknown) {
      for (const append of batch) append.fail(mayBeStored(append, error, `reading its outcome failed: ${errorText(readError)}`));
      return;
    }
    batch.forEach((append, index) => {
      const outcome = settled[index];
      if (outcome?.kind === "answered") append.resolve(outcome.result);
      // Not found by a majority: not stored, or stored on the primary and not yet by a majority (the very case of
      // a commit that ran out of time waiting for one). Only the same command id, retried, can tell.
      else append.fail(mayBeStored(append, error, "a majority read does not find its outcome yet"));
    });
    if (settled.some((outcome) => outcome.kind === "answered" && outcome.result.kind === "appended")) this.notify(writes.head);
  }

  private transactionContext(): AppendTransactionContext {
    return {
      client: this.client,
      collections: this.collections,
      reads: this.reads,
      outcomeRetentionMs: this.settings.outcomeRetentionMs,
      commitTimeoutMs: this.settings.commitTimeoutMs,
      beforeCommit: this.settings.beforeCommit,
      afterCommit: this.settings.afterCommit,
    };
  }

  /** A wake-up from the watcher: reads the head and tells the listeners if it moved. One read at a time. */
  private checkHead(): void {
    if (this.checkingHead) {
      this.checkHeadAgain = true;
      return;
    }
    this.checkingHead = true;
    void (async () => {
      try {
        do {
          this.checkHeadAgain = false;
          if (this.closing !== undefined) return;
          this.notify(await this.headPosition());
        } while (this.checkHeadAgain);
      } catch (error: unknown) {
        this.settings.logger?.warn("reading the head after a change of the position counter failed", { error: error instanceof Error ? error.message : String(error) });
      } finally {
        this.checkingHead = false;
      }
    })();
  }

  private notify(head: number): void {
    if (head <= this.notifiedHead) return;
    this.notifiedHead = head;
    for (const listener of this.listeners) {
      try {
        listener(head);
      } catch (error: unknown) {
        this.settings.logger?.error("an onAppended listener threw; the store carries on", { error, headPosition: head });
      }
    }
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new Error(`the MongoDB event store on database ${this.database} is closed`);
  }
}

/** The append whose document a duplicate key refused, when that is what made the transaction fail. */
function offendingAppend(
  error: unknown,
  attempt: BatchAttempt,
  batch: readonly PendingAppend[],
): { append: PendingAppend; stage: "events" | "outcomes" } | undefined {
  const { stage, writes } = attempt;
  if ((stage !== "events" && stage !== "outcomes") || writes === undefined || !isDuplicateKey(error)) return undefined;
  const index = firstWriteError(error)?.index;
  const owner = index === undefined ? undefined : (stage === "events" ? writes.eventOwners : writes.outcomeOwners)[index];
  const append = owner === undefined ? undefined : batch[owner];
  return append === undefined ? undefined : { append, stage };
}

function notStored(append: PendingAppend, error: unknown, why?: string): Error {
  const reason = why ?? errorText(error);
  return new Error(`command "${append.request.commandId}" was not stored: ${reason}`, { cause: error });
}

function mayBeStored(append: PendingAppend, error: unknown, why: string): Error {
  const { commandId } = append.request;
  return new Error(
    `command "${commandId}" may or may not be stored: its commit's result is unknown (${errorText(error)}), and ${why}; retry with the same command id to learn which`,
    { cause: error },
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
