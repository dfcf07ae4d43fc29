import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import { validateAppend } from "./append-validation";
import { AppendRejectedError, type AggregateHistory, type AppendRequest, type AppendResult, type CommandFailureRecord, type CommandOutcome, type EventStore, type StoredEvent } from "./event-store";
import { resolveStoreOptions, type EmbeddedEventStoreOptions, type EmbeddedStoreSettings } from "./embedded-store-options";
import { EventIndex, aggregateKey } from "./event-index";
import { GroupCommitWriter, type GroupCommitStats } from "./group-commit-writer";
import { syncDirectory, type OpenedJournalFile } from "./journal-file";
import type { EncodedRecord } from "./journal-frame";
import { JournalLock } from "./journal-lock";
import type { CommitRecord, FailureRecord, JournalRecord } from "./journal-record";
import { encodeJournalRecord } from "./journal-record-codec";
import { recoverJournal, type JournalRecovery, type RecoveredJournal } from "./journal-recovery";
import { OutcomeRegistry, outcomeOf } from "./outcome-registry";
import { PendingAppends } from "./pending-appends";

export type { EmbeddedEventStoreOptions, StoreLogger } from "./embedded-store-options";
export { JOURNAL_FILE_NAME, type JournalRecovery } from "./journal-recovery";

export interface EmbeddedStoreStats extends GroupCommitStats {
  /** Events held (the head position). */
  events: number;
  /** Outcomes held within retention (until the next prune). */
  outcomes: number;
  /** Journal length in bytes, header included. */
  journalBytes: number;
}

/** A record on its way to the journal, with the append (or recordFailure) waiting for it. */
interface QueuedWrite {
  readonly encoded: EncodedRecord;
  readonly record: JournalRecord;
  readonly onDurable: (events: StoredEvent[]) => void;
  readonly onFailed: (error: Error) => void;
}

interface OpenedParts extends RecoveredJournal {
  settings: EmbeddedStoreSettings;
  lock: JournalLock;
}

/**
 * The embedded System State Store: an append-only journal file, fdatasync'd with group commit, and in-memory
 * indexes rebuilt from it on open. Every event stays in memory (see `EventIndex`).
 *
 * Ordering: `append` checks the expected sequence and takes its positions synchronously, against durable and
 * pending appends alike, then waits for the write. If a write fails, every append in it and every append ordered
 * behind it fails, the file is cut back, and nothing of them is visible. Events and outcomes become readable
 * only once durable. The store keeps the payload Buffers and metadata objects it is given: callers must not
 * change them afterwards.
 */
export class EmbeddedEventStore implements EventStore {
  /** What opening found: records replayed and the torn tail cut off, if any. */
  readonly recovery: JournalRecovery;
  private readonly settings: EmbeddedStoreSettings;
  private readonly lock: JournalLock;
  private readonly file: OpenedJournalFile;
  private readonly index: EventIndex;
  private readonly outcomes: OutcomeRegistry;
  private readonly pending: PendingAppends;
  private readonly writer: GroupCommitWriter<QueuedWrite>;
  private readonly listeners = new Set<(headPosition: number) => void>();
  private readonly pruneTimer: NodeJS.Timeout;
  private notifiedHead: number;
  private closing: Promise<void> | undefined;

  private constructor(parts: OpenedParts) {
    this.settings = parts.settings;
    this.lock = parts.lock;
    this.file = parts.file;
    this.index = parts.index;
    this.outcomes = parts.outcomes;
    this.recovery = parts.recovery;
    this.pending = new PendingAppends(this.index.head);
    this.notifiedHead = this.index.head;
    this.writer = new GroupCommitWriter<QueuedWrite>(parts.file.handle, parts.journalLength, this.settings.maxWriteBytes, {
      durable: (batch) => this.onDurable(batch),
      failed: (writes, error) => this.onWriteFailed(writes, error),
    });
    this.pruneTimer = setInterval(() => this.outcomes.prune(Date.now()), pruneIntervalMs(this.settings.outcomeRetentionMs));
    this.pruneTimer.unref();
  }

  /** Opens (creating if needed) the journal in `options.directory` and replays it. */
  static async open(options: EmbeddedEventStoreOptions): Promise<EmbeddedEventStore> {
    const settings = resolveStoreOptions(options);
    const created = await mkdir(settings.directory, { recursive: true });
    if (created !== undefined) await syncDirectory(path.dirname(created));
    const lock = await JournalLock.acquire(settings.directory);
    try {
      return new EmbeddedEventStore({ settings, lock, ...(await recoverJournal(settings)) });
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    // Everything up to the first await runs synchronously: the check and the reservation cannot interleave.
    this.assertWritable();
    validateAppend(request, this.settings);
    const key = request.aggregateId === "" ? undefined : aggregateKey(request.aggregateType, request.aggregateId);
    const current = key === undefined ? 0 : (this.pending.sequenceOf(key) ?? this.index.sequenceOf(key));
    if (key !== undefined && request.expectedSequence !== current) return { kind: "conflict", actualSequence: current };
    const record = this.commitRecordFor(request, current);
    const stored = this.enqueue(record);
    this.pending.takePositions(request.events.length);
    if (key !== undefined) this.pending.takeSequence(key, record.sequence, stored.then(ignore, ignore));
    const events = await stored;
    return { kind: "appended", ack: { commandId: record.commandId, position: record.position, sequence: record.sequence }, events };
  }

  async readAggregate(aggregateType: string, aggregateId: string): Promise<AggregateHistory> {
    this.assertOpen();
    // A reader that just lost a conflict should see the winner: wait for the aggregate's pending appends.
    const settled = this.pending.settledFor(aggregateKey(aggregateType, aggregateId));
    if (settled !== undefined) await settled;
    return this.index.history(aggregateType, aggregateId);
  }

  async readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    this.assertOpen();
    return this.index.readAll(afterPosition, limit);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    return this.index.head;
  }

  onAppended(listener: (headPosition: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async findOutcome(commandId: string): Promise<CommandOutcome | undefined> {
    this.assertOpen();
    return this.outcomes.find(commandId, Date.now());
  }

  async recordFailure(failure: CommandFailureRecord): Promise<void> {
    this.assertWritable();
    if (typeof failure.commandId !== "string" || failure.commandId === "") throw new Error("recordFailure needs a command id");
    const record: FailureRecord = { kind: "failure", timeMs: Date.now(), failure };
    await this.enqueue(record);
  }

  /** Counters for tests and metrics: group-commit writes and syncs, records, bytes. */
  stats(): EmbeddedStoreStats {
    return { ...this.writer.stats(), events: this.index.head, outcomes: this.outcomes.size, journalBytes: this.writer.length };
  }

  /** Waits for pending writes, then closes the journal. Idempotent; every other call afterwards rejects. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.writer.whenIdle();
    this.listeners.clear();
    try {
      await this.file.handle.close();
    } finally {
      await this.lock.release();
    }
  }

  private commitRecordFor(request: AppendRequest, currentSequence: number): CommitRecord {
    return {
      kind: "commit",
      timeMs: Date.now(),
      commandId: request.commandId,
      aggregateType: request.aggregateType,
      aggregateId: request.aggregateId,
      position: this.pending.head + request.events.length,
      sequence: request.aggregateId === "" ? 0 : currentSequence + request.events.length,
      events: request.events,
      snapshot: request.snapshot,
    };
  }

  /** Encodes and queues a record; throws synchronously (nothing queued) when it exceeds `maxWriteBytes`. */
  private enqueue(record: JournalRecord): Promise<StoredEvent[]> {
    const encoded = encodeJournalRecord(record);
    if (encoded.byteLength > this.settings.maxWriteBytes) {
      throw new AppendRejectedError(
        `command "${commandIdOf(record)}" needs a ${encoded.byteLength}-byte journal record, more than maxWriteBytes (${this.settings.maxWriteBytes})`,
      );
    }
    return new Promise((onDurable, onFailed) => this.writer.enqueue({ encoded, record, onDurable, onFailed }));
  }

  private onDurable(batch: readonly QueuedWrite[]): void {
    const now = Date.now();
    for (const write of batch) {
      try {
        const events = write.record.kind === "commit" ? this.commit(write.record) : [];
        this.outcomes.record(outcomeOf(write.record), write.record.timeMs, now);
        write.onDurable(events);
      } catch (error) {
        write.onFailed(error instanceof Error ? error : new Error(String(error)));
      }
    }
    this.notifyListeners();
  }

  private commit(record: CommitRecord): StoredEvent[] {
    if (record.aggregateId !== "") this.pending.release(aggregateKey(record.aggregateType, record.aggregateId));
    return this.index.apply(record);
  }

  private onWriteFailed(writes: readonly QueuedWrite[], error: Error): void {
    this.pending.reset(this.index.head);
    for (const write of writes) {
      const message = `command "${commandIdOf(write.record)}" was not stored: the journal write failed (${error.message})`;
      write.onFailed(new Error(message, { cause: error }));
    }
  }

  private notifyListeners(): void {
    const head = this.index.head;
    if (head === this.notifiedHead) return;
    this.notifiedHead = head;
    for (const listener of this.listeners) {
      try {
        listener(head);
      } catch (error) {
        this.settings.logger?.error("an onAppended listener threw; the store carries on", { error, headPosition: head });
      }
    }
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new Error(`the embedded event store in ${this.settings.directory} is closed`);
  }

  private assertWritable(): void {
    this.assertOpen();
    const failure = this.writer.failure;
    if (failure !== undefined) throw new Error(`the embedded event store in ${this.settings.directory} cannot write: ${failure.message}`, { cause: failure });
  }
}

function commandIdOf(record: JournalRecord): string {
  return record.kind === "commit" ? record.commandId : record.failure.commandId;
}

/** Often enough that expired outcomes do not pile up, rarely enough to cost nothing: between 1 s and 1 min. */
function pruneIntervalMs(retentionMs: number): number {
  return Math.min(Math.max(retentionMs, 1000), 60_000);
}

function ignore(): void {}
