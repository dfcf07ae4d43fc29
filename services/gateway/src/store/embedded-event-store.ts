import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import { validateAppend } from "./append-validation";
import { AppendRejectedError, type AggregateHistory, type AppendRequest, type AppendResult, type CommandFailureRecord, type CommandOutcome, type EventStore, type StoredEvent } from "./event-store";
import { resolveStoreOptions, type EmbeddedEventStoreOptions, type EmbeddedStoreSettings } from "./embedded-store-options";
import { EventIndex, aggregateKey } from "./event-index";
import type { RecordLocation } from "./event-locations";
import { GroupCommitWriter, type GroupCommitStats } from "./group-commit-writer";
import { writeCheckpoint } from "./index-checkpoint";
import { syncDirectory, type OpenedJournalFile } from "./journal-file";
import type { EncodedRecord } from "./journal-frame";
import { JournalLock } from "./journal-lock";
import type { CommitRecord, FailureRecord, JournalRecord } from "./journal-record";
import { encodeJournalRecord } from "./journal-record-codec";
import { JOURNAL_FILE_NAME, recoverJournal, type JournalRecovery, type RecoveredJournal } from "./journal-recovery";
import { JournalReader } from "./journal-reader";
import { JournalScanner } from "./journal-scanner";
import { OutcomeRegistry, commandIdOf, outcomeOf } from "./outcome-registry";
import { PendingAppends } from "./pending-appends";
import { RecordCache, type CachedRecord } from "./record-cache";
import { storedEventsOf } from "./stored-events";

export type { EmbeddedEventStoreOptions, StoreLogger } from "./embedded-store-options";
export { JOURNAL_FILE_NAME, type JournalRecovery } from "./journal-recovery";

export interface EmbeddedStoreStats extends GroupCommitStats {
  /** Events held (the head position). */
  events: number;
  /** Outcomes held within retention (until the next prune). */
  outcomes: number;
  /** Journal length in bytes, header included. */
  journalBytes: number;
  /** Aggregates with at least one event. */
  aggregates: number;
  /** Records in the cache, and their estimated bytes (at most `cacheBytes`). */
  cachedRecords: number;
  cachedBytes: number;
  /** Bytes of the sparse position index's and the outcome index's arrays. */
  positionIndexBytes: number;
  outcomeIndexBytes: number;
  /** Bytes that reads of all events (`readAll`: consumers) read back from the journal file, their cache misses. */
  scannedBytes: number;
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
 * indexes rebuilt from it on open (or loaded from the index checkpoint written on close, see `index-checkpoint.ts`).
 * Events and snapshots stay in the journal: the index holds where they are (`EventIndex`), a bounded cache holds
 * the records last committed or read (`RecordCache`), and the rest is read back from the file, an aggregate's
 * records by location (`JournalReader`), a consumer's batch by walking the journal from a sparse index entry
 * (`JournalScanner`). So memory follows the aggregates, the outcomes within retention and the cache's bound, not
 * the length of the history.
 *
 * Ordering: `append` checks the expected sequence and takes its positions synchronously, against durable and
 * pending appends alike, then waits for the write. If a write fails, every append in it and every append ordered
 * behind it fails, the file is cut back, and nothing of them is visible. Events and outcomes become readable
 * only once durable. The store may keep and return the same payload Buffers and metadata objects to several
 * callers: callers must not change them.
 */
export class EmbeddedEventStore implements EventStore {
  /** What opening found: records replayed and the torn tail cut off, if any. */
  readonly recovery: JournalRecovery;
  private readonly settings: EmbeddedStoreSettings;
  private readonly lock: JournalLock;
  private readonly file: OpenedJournalFile;
  private readonly index: EventIndex;
  private readonly journalPath: string;
  private readonly reader: JournalReader;
  private readonly cache: RecordCache;
  private readonly outcomes: OutcomeRegistry;
  private readonly pending: PendingAppends;
  private readonly writer: GroupCommitWriter<QueuedWrite>;
  private readonly listeners = new Set<(headPosition: number) => void>();
  private readonly pruneTimer: NodeJS.Timeout;
  private notifiedHead: number;
  private scannedBytes = 0;
  /** The journal's last durable record: where a checkpoint taken now would end. */
  private lastRecord: RecordLocation | undefined;
  /** Where the checkpoint on disk ends (the journal length when opened from one), so an unchanged one is not rewritten. */
  private readonly checkpointedLength: number;
  private closing: Promise<void> | undefined;

  private constructor(parts: OpenedParts) {
    this.settings = parts.settings;
    this.lock = parts.lock;
    this.file = parts.file;
    this.index = parts.index;
    this.journalPath = path.join(this.settings.directory, JOURNAL_FILE_NAME);
    this.reader = new JournalReader(parts.file.handle, this.journalPath);
    this.cache = new RecordCache(this.settings.cacheBytes);
    this.outcomes = parts.outcomes;
    this.recovery = parts.recovery;
    this.lastRecord = parts.lastRecord;
    this.checkpointedLength = parts.recovery.checkpointBytes;
    this.pending = new PendingAppends(this.index.head);
    this.notifiedHead = this.index.head;
    this.writer = new GroupCommitWriter<QueuedWrite>(parts.file.handle, parts.journalLength, this.settings.maxWriteBytes, {
      durable: (batch, offset) => this.onDurable(batch, offset),
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
    if (settled !== undefined) {
      await settled;
      // The store may have closed meanwhile: its file must not be read after close waited for the reads.
      this.assertOpen();
    }
    const plan = this.index.plan(aggregateType, aggregateId);
    const records = await this.recordsAt(plan.snapshot === undefined ? plan.records : [plan.snapshot, ...plan.records]);
    const events = plan.records.flatMap((location) => eventsAt(records, location, aggregateType, aggregateId));
    const history: AggregateHistory = { events, sequence: plan.sequence };
    const snapshot = plan.snapshot && records.get(plan.snapshot.offset)?.snapshot;
    if (snapshot !== undefined) history.snapshot = snapshot;
    return history;
  }

  async readAll(afterPosition: number, limit: number): Promise<StoredEvent[]> {
    this.assertOpen();
    // `|| 0`: a NaN argument reads as 0, as Array#slice took it before.
    const first = Math.max(0, Math.floor(afterPosition) || 0) + 1;
    const last = Math.min(this.index.head, first + Math.max(0, Math.floor(limit) || 0) - 1);
    if (first > last) return [];
    return this.reader.track(this.scanEvents(first, last));
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
    // Usually no candidate (a first attempt); a repeat reads its record back: the outcome is what it holds.
    for (const location of this.outcomes.candidates(commandId, Date.now())) {
      const record = (await this.reader.read([location])).get(location.offset);
      if (record !== undefined && commandIdOf(record) === commandId) return outcomeOf(record);
    }
    return undefined;
  }

  async recordFailure(failure: CommandFailureRecord): Promise<void> {
    this.assertWritable();
    if (typeof failure.commandId !== "string" || failure.commandId === "") throw new Error("recordFailure needs a command id");
    const record: FailureRecord = { kind: "failure", timeMs: Date.now(), failure };
    await this.enqueue(record);
  }

  /** Counters for tests and metrics: group-commit writes and syncs, records, bytes. */
  stats(): EmbeddedStoreStats {
    return {
      ...this.writer.stats(),
      events: this.index.head,
      outcomes: this.outcomes.size,
      journalBytes: this.writer.length,
      aggregates: this.index.aggregates,
      cachedRecords: this.cache.size,
      cachedBytes: this.cache.bytes,
      positionIndexBytes: this.index.positionIndexBytes,
      outcomeIndexBytes: this.outcomes.allocatedBytes,
      scannedBytes: this.scannedBytes,
    };
  }

  /** Waits for pending writes, then closes the journal. Idempotent; every other call afterwards rejects. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.writer.whenIdle();
    await this.reader.whenIdle();
    this.listeners.clear();
    try {
      await this.checkpoint();
      await this.file.handle.close();
    } finally {
      await this.lock.release();
    }
  }

  /**
   * Saves the indexes for the next open, unless nothing was appended since the last checkpoint or a write failed.
   * A failure here loses nothing: the next open replays the journal.
   */
  private async checkpoint(): Promise<void> {
    const journalLength = this.writer.length;
    if (this.lastRecord === undefined || this.writer.failure !== undefined || journalLength === this.checkpointedLength) return;
    const state = { journalLength, lastRecord: this.lastRecord, records: this.recovery.records + this.writer.stats().records, index: this.index, outcomes: this.outcomes };
    try {
      await writeCheckpoint(this.settings.directory, this.file.handle, state);
    } catch (error) {
      this.settings.logger?.warn("could not write the index checkpoint; the next open replays the journal", { directory: this.settings.directory, error: String(error) });
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

  private onDurable(batch: readonly QueuedWrite[], offset: number): void {
    const now = Date.now();
    let at = offset;
    for (const write of batch) {
      const location = { offset: at, length: write.encoded.byteLength };
      at += location.length;
      this.lastRecord = location;
      try {
        const events = write.record.kind === "commit" ? this.commit(write.record, location) : this.failed(location);
        this.outcomes.record(commandIdOf(write.record), location, write.record.timeMs, now);
        write.onDurable(events);
      } catch (error) {
        write.onFailed(error instanceof Error ? error : new Error(String(error)));
      }
    }
    this.notifyListeners();
  }

  private commit(record: CommitRecord, location: RecordLocation): StoredEvent[] {
    if (record.aggregateId !== "") this.pending.release(aggregateKey(record.aggregateType, record.aggregateId));
    this.index.apply(record, location);
    if (record.events.length > 0 || record.snapshot !== undefined) this.cache.add(location, record);
    else this.cache.addWithoutEvents(location);
    return storedEventsOf(record);
  }

  /** A failure record holds no events; the cache knows its length so that a consumer's scan steps over it in memory. */
  private failed(location: RecordLocation): StoredEvent[] {
    this.cache.addWithoutEvents(location);
    return [];
  }

  /**
   * Events `first ..= last`, walking the journal from the sparse index's entry at or before `first`. Records in the
   * cache are taken from it, lengths included, so a consumer on the live tail reads nothing from the file. Others
   * are read and decoded from the journal and, as a consumer catching up reads history once, not cached: they would
   * push the aggregates being worked on out.
   */
  private async scanEvents(first: number, last: number): Promise<StoredEvent[]> {
    const end = this.writer.length;
    let scanner: JournalScanner | undefined;
    const events: StoredEvent[] = [];
    try {
      for (let offset = this.index.scanStart(first).offset; events.length <= last - first; ) {
        if (offset >= end) throw new Error(`the journal ${this.journalPath} ends before position ${first + events.length}`);
        const cached = this.cache.get(offset, false);
        let stored: readonly StoredEvent[];
        let length: number;
        if (cached !== undefined) {
          ({ events: stored, length } = cached);
        } else {
          scanner ??= new JournalScanner(this.file.handle, this.journalPath, end);
          const location = await scanner.locationAt(offset);
          stored = eventsOf(await scanner.recordAt(location));
          length = location.length;
        }
        for (const event of stored) if (event.position >= first && event.position <= last) events.push(event);
        offset += length;
      }
    } finally {
      this.scannedBytes += scanner?.bytesRead ?? 0;
    }
    return events;
  }

  /** The commit records at `locations`, from the cache or else from the journal; those read join the cache. */
  private async recordsAt(locations: readonly RecordLocation[]): Promise<Map<number, CachedRecord>> {
    const found = new Map<number, CachedRecord>();
    const missing: RecordLocation[] = [];
    for (const location of locations) {
      const cached = this.cache.get(location.offset, true);
      if (cached === undefined) missing.push(location);
      else found.set(location.offset, cached);
    }
    if (missing.length === 0) return found;
    const read = await this.reader.read(missing);
    for (const location of missing) {
      const record = read.get(location.offset);
      if (record === undefined || found.has(location.offset)) continue;
      if (record.kind !== "commit") throw new Error(`the journal holds a failure record at byte ${location.offset}, where the index expects a commit`);
      found.set(location.offset, this.cache.add(location, record));
    }
    return found;
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

/** Often enough that expired outcomes do not pile up, rarely enough to cost nothing: between 1 s and 1 min. */
function pruneIntervalMs(retentionMs: number): number {
  return Math.min(Math.max(retentionMs, 1000), 60_000);
}

function ignore(): void {}

/** The events of the record found at `location`, which the index says are the aggregate's. */
function eventsAt(records: ReadonlyMap<number, CachedRecord>, location: RecordLocation, aggregateType: string, aggregateId: string): readonly StoredEvent[] {
  const events = records.get(location.offset)?.events ?? [];
  if (events.length === 0 || events[0]!.aggregateType !== aggregateType || events[0]!.aggregateId !== aggregateId) {
    throw new Error(`the journal record at byte ${location.offset} does not hold events of ${aggregateType}/${aggregateId}`);
  }
  return events;
}

function eventsOf(record: JournalRecord): readonly StoredEvent[] {
  return record.kind === "commit" ? storedEventsOf(record) : [];
}
