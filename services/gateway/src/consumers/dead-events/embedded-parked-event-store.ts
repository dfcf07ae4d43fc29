import type { FileHandle } from "node:fs/promises";
import type { StoreLogger } from "../../store/embedded-store-options";
import { frameRecord, type EncodedRecord } from "../../store/journal-frame";
import type { JournalLock } from "../../store/journal-lock";
import { openRecordJournal, replaceRecordJournal } from "../../store/record-journal";
import { compareEntries, entryKey, type ParkedEntry, type ParkedEventStore } from "./parked-event-store";
import { decodeParkedRecord, encodeParkedRecord, type ParkedRecord } from "./parked-record-codec";

export const PARKED_FILE_NAME = "parked-events.journal";
const PARKED_LOCK_NAME = "parked-events.lock";
/** The file's header: its own format name, so no other journal of the data folder is read as this one. */
export const PARKED_MAGIC = Buffer.from("RECQPRK1", "latin1");
/** Records are small (one entry's fields as JSON): a torn tail is at most one write of a batch of them. */
const MAX_WRITE_BYTES = 16 * 1024 * 1024;

export interface EmbeddedParkedEventStoreOptions {
  /** The data folder; the store is `parked-events.journal` in it, locked by `parked-events.lock`. */
  directory: string;
  /** The file is rewritten with only the held entries once it is larger than this and twice their size. Default 1 MiB. */
  compactAfterBytes?: number;
  logger?: StoreLogger;
}

/**
 * The embedded parked-event store: an append-only file of "parked", "failed" and "removed" records in the event
 * journal's framing (length, CRC-32, body), each write fdatasync'd before it resolves, replayed on open with the
 * journal's torn-tail rules. Memory holds the entries (bounded per consumer by the gateway's limit). Writes run one
 * at a time (parking is rare: no group commit needed). Compaction writes the held entries to a new file, syncs it
 * and renames it over the old one, so a crash leaves one of the two whole.
 */
export class EmbeddedParkedEventStore implements ParkedEventStore {
  private readonly entries = new Map<string, ParkedEntry>();
  private writes: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly filePath: string,
    private handle: FileHandle,
    private length: number,
    private readonly lock: JournalLock,
    private readonly compactAfterBytes: number,
    private readonly logger: StoreLogger | undefined,
    replayed: Map<string, ParkedEntry>,
  ) {
    for (const [key, entry] of replayed) this.entries.set(key, entry);
  }

  static async open(options: EmbeddedParkedEventStoreOptions): Promise<EmbeddedParkedEventStore> {
    const replayed = new Map<string, ParkedEntry>();
    const journal = await openRecordJournal(
      {
        directory: options.directory,
        fileName: PARKED_FILE_NAME,
        lockName: PARKED_LOCK_NAME,
        magic: PARKED_MAGIC,
        maxTornTailBytes: MAX_WRITE_BYTES,
        describedAs: "the parked-event store",
        logger: options.logger,
      },
      (body) => apply(replayed, decodeParkedRecord(body)),
    );
    return new EmbeddedParkedEventStore(journal.filePath, journal.handle, journal.endOffset, journal.lock, options.compactAfterBytes ?? 1024 * 1024, options.logger, replayed);
  }


  park(entries: readonly ParkedEntry[]): Promise<void> {
    const fresh = entries.filter((entry) => !this.entries.has(entryKey(entry.consumer, entry.position)));
    for (const entry of fresh) this.entries.set(entryKey(entry.consumer, entry.position), { ...entry });
    return this.append(fresh.map((entry): ParkedRecord => ({ kind: "parked", entry }))).catch((error: unknown) => {
      // Not durable: a later park of the same events must write them, not find them held.
      for (const entry of fresh) this.entries.delete(entryKey(entry.consumer, entry.position));
      throw error;
    });
  }

  recordFailure(consumer: string, position: number, error: string, attempts: number): Promise<void> {
    const entry = this.entries.get(entryKey(consumer, position));
    if (entry === undefined) return this.append([]);
    entry.error = error;
    entry.attempts = attempts;
    return this.append([{ kind: "failed", consumer, position, error, attempts }]);
  }

  remove(consumer: string, positions: readonly number[]): Promise<void> {
    const held = positions.filter((position) => this.entries.delete(entryKey(consumer, position)));
    return this.append(held.length === 0 ? [] : [{ kind: "removed", consumer, positions: held }]);
  }

  /** One "removed" record per consumer, naming the positions it held: the journal's format needs no new kind. */
  removeConsumers(consumers: readonly string[]): Promise<void> {
    const gone = new Set(consumers);
    const held = new Map<string, number[]>();
    for (const [key, entry] of this.entries) {
      if (!gone.has(entry.consumer)) continue;
      this.entries.delete(key);
      held.set(entry.consumer, [...(held.get(entry.consumer) ?? []), entry.position]);
    }
    return this.append([...held].map(([consumer, positions]): ParkedRecord => ({ kind: "removed", consumer, positions })));
  }

  async all(): Promise<ParkedEntry[]> {
    this.assertOpen();
    return [...this.entries.values()].map((entry) => ({ ...entry })).sort(compareEntries);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.catch(() => undefined);
    try {
      await this.handle.close();
    } finally {
      await this.lock.release();
    }
  }

  /** Writes the records after those before them, synced; then compacts if the file has grown wasteful. */
  private append(records: ParkedRecord[]): Promise<void> {
    this.assertOpen();
    const write = this.writes.then(async () => {
      if (records.length > 0) await this.writeAt(this.handle, this.length, records.map((record) => frameRecord(encodeParkedRecord(record))));
      if (this.length <= this.compactAfterBytes) return;
      // The records are durable already: a compaction that fails leaves the old file in use, and the write done.
      await this.compactIfWasteful().catch((error: unknown) =>
        this.logger?.warn("could not compact the parked-event store; it carries on in the old file", { file: this.filePath, error: String(error) }),
      );
    });
    // The next write waits for this one, whatever its fate; this one's caller sees its error.
    this.writes = write.catch(() => undefined);
    return write;
  }

  private async writeAt(handle: FileHandle, offset: number, records: EncodedRecord[]): Promise<void> {
    const chunks = records.flatMap((record) => record.chunks);
    const bytes = records.reduce((sum, record) => sum + record.byteLength, 0);
    try {
      await handle.writev(chunks as Buffer[], offset);
      await handle.datasync();
    } catch (error) {
      // Cut back what may have been written in part, so the next record starts on a frame boundary.
      await handle.truncate(offset).catch(() => undefined);
      throw new Error(`the parked-event store could not write: ${String(error)}`, { cause: error });
    }
    if (handle === this.handle) this.length = offset + bytes;
  }

  private async compactIfWasteful(): Promise<void> {
    const records = [...this.entries.values()].sort(compareEntries).map((entry) => frameRecord(encodeParkedRecord({ kind: "parked", entry })));
    const liveBytes = PARKED_MAGIC.length + records.reduce((sum, record) => sum + record.byteLength, 0);
    if (liveBytes * 2 > this.length) return;
    const handle = await replaceRecordJournal(this.filePath, async (file) => {
      await file.write(PARKED_MAGIC, 0, PARKED_MAGIC.length, 0);
      await this.writeAt(file, PARKED_MAGIC.length, records);
    });
    const old = this.handle;
    this.handle = handle;
    this.length = liveBytes;
    await old.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`the parked-event store ${this.filePath} is closed`);
  }
}

function apply(entries: Map<string, ParkedEntry>, record: ParkedRecord): void {
  if (record.kind === "parked") {
    const key = entryKey(record.entry.consumer, record.entry.position);
    if (!entries.has(key)) entries.set(key, record.entry);
  } else if (record.kind === "failed") {
    const entry = entries.get(entryKey(record.consumer, record.position));
    if (entry !== undefined) Object.assign(entry, { error: record.error, attempts: record.attempts });
  } else {
    for (const position of record.positions) entries.delete(entryKey(record.consumer, position));
  }
}
