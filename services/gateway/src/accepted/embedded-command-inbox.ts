import type { FileHandle } from "node:fs/promises";
import type { StoreLogger } from "../store/embedded-store-options";
import { GroupCommitWriter } from "../store/group-commit-writer";
import { frameRecord, type EncodedRecord } from "../store/journal-frame";
import type { JournalLock } from "../store/journal-lock";
import { openRecordJournal, replaceRecordJournal } from "../store/record-journal";
import type { AcceptedCommand } from "./accepted-command";
import { decodeInboxRecord, encodeInboxRecord, type InboxRecord } from "./accepted-record-codec";
import type { CommandInbox } from "./command-inbox";

export const INBOX_FILE_NAME = "accepted.journal";
const INBOX_LOCK_NAME = "accepted.lock";
/** The inbox file's header: its own format name, so an event journal is never read as an inbox or the other way round. */
export const INBOX_MAGIC = Buffer.from("RECQINB1", "latin1");

export interface EmbeddedCommandInboxOptions {
  /** The data folder (the event journal's); the inbox is `accepted.journal` in it, locked by `accepted.lock`. */
  directory: string;
  /** Bytes of one group-commit write; one accepted command's record must fit. Default 16 MiB, as the event journal's. */
  maxWriteBytes?: number;
  /**
   * The file is rewritten with only the waiting commands once the records of settled ones take more than this many
   * bytes and more than half the file. Default 4 MiB.
   */
  compactAfterBytes?: number;
  logger?: StoreLogger;
}

interface InboxWrite {
  readonly encoded: EncodedRecord;
  readonly done: () => void;
  readonly failed: (error: Error) => void;
}

interface LiveEntry {
  command: AcceptedCommand;
  /** Its framed record's bytes in the file. */
  recordBytes: number;
  /** Resolves once its record is durable: a repeat that arrives before then waits for it. */
  durable: Promise<void>;
}

/**
 * The embedded inbox: an append-only file of "accepted" and "settled" records in the journal's framing (length,
 * CRC-32, body), fdatasync'd by the same group commit as the event journal, and replayed on open with the same
 * torn-tail rules. Memory holds the waiting commands (their count and bytes are bounded by the executor's
 * limits). Compaction writes the waiting commands to a new file, syncs it, and renames it over the old one (then
 * syncs the folder), so a crash at any point leaves either the old file or the new one whole.
 */
export class EmbeddedCommandInbox implements CommandInbox {
  private readonly live = new Map<string, LiveEntry>();
  private liveBytes = 0;
  private unclaimed: AcceptedCommand[];
  private writer: GroupCommitWriter<InboxWrite>;
  /** Writes waiting while a compaction swaps the file. */
  private held: InboxWrite[] | undefined;
  private compaction: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly filePath: string,
    private handle: FileHandle,
    length: number,
    private readonly lock: JournalLock,
    private readonly settings: Required<Omit<EmbeddedCommandInboxOptions, "logger">> & { logger: StoreLogger | undefined },
    replayed: Map<string, AcceptedCommand>,
  ) {
    this.writer = this.newWriter(handle, length);
    for (const command of replayed.values()) this.hold(command, Promise.resolve());
    this.unclaimed = [...replayed.values()];
  }

  static async open(options: EmbeddedCommandInboxOptions): Promise<EmbeddedCommandInbox> {
    const settings = {
      directory: options.directory,
      maxWriteBytes: options.maxWriteBytes ?? 16 * 1024 * 1024,
      compactAfterBytes: options.compactAfterBytes ?? 4 * 1024 * 1024,
      logger: options.logger,
    };
    const replayed = new Map<string, AcceptedCommand>();
    const journal = await openRecordJournal(
      {
        directory: settings.directory,
        fileName: INBOX_FILE_NAME,
        lockName: INBOX_LOCK_NAME,
        magic: INBOX_MAGIC,
        maxTornTailBytes: settings.maxWriteBytes,
        describedAs: "the accepted-command inbox",
        logger: settings.logger,
      },
      (body) => apply(replayed, decodeInboxRecord(body)),
    );
    const inbox = new EmbeddedCommandInbox(journal.filePath, journal.handle, journal.endOffset, journal.lock, settings, replayed);
    inbox.compactIfWasteful();
    return inbox;
  }

  /** Waiting commands, and the bytes of the file (header included), for tests and metrics. */
  stats(): { waiting: number; fileBytes: number } {
    return { waiting: this.live.size, fileBytes: this.writer.length };
  }

  async add(command: AcceptedCommand): Promise<"added" | "present"> {
    this.assertOpen();
    const existing = this.live.get(command.commandId);
    if (existing !== undefined) {
      await existing.durable;
      return "present";
    }
    const encoded = frameRecord(encodeInboxRecord({ kind: "accepted", command }));
    if (encoded.byteLength > this.settings.maxWriteBytes) {
      throw new Error(`command "${command.commandId}" needs a ${encoded.byteLength}-byte inbox record, more than maxWriteBytes (${this.settings.maxWriteBytes})`);
    }
    const durable = this.write(encoded);
    const entry = this.hold(command, durable, encoded.byteLength);
    try {
      await durable;
    } catch (error) {
      if (this.live.get(command.commandId) === entry) this.forget(command.commandId);
      throw error;
    }
    this.compactIfWasteful();
    return "added";
  }

  async claim(): Promise<AcceptedCommand[]> {
    this.assertOpen();
    return this.unclaimed.splice(0);
  }

  async settle(commandId: string): Promise<void> {
    this.assertOpen();
    if (!this.live.has(commandId)) return;
    this.forget(commandId);
    // If this record is lost (a crash before it is durable), the command is handed out again after the restart and
    // finds its outcome in the event store: settling is safe to repeat.
    await this.write(frameRecord(encodeInboxRecord({ kind: "settled", commandId })));
    this.compactIfWasteful();
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    await this.compaction;
    await this.writer.whenIdle();
    try {
      await this.handle.close();
    } finally {
      await this.lock.release();
    }
  }

  private hold(command: AcceptedCommand, durable: Promise<void>, recordBytes = frameRecord(encodeInboxRecord({ kind: "accepted", command })).byteLength): LiveEntry {
    const entry = { command, recordBytes, durable };
    this.live.set(command.commandId, entry);
    this.liveBytes += recordBytes;
    return entry;
  }

  private forget(commandId: string): void {
    const entry = this.live.get(commandId);
    if (entry === undefined) return;
    this.live.delete(commandId);
    this.liveBytes -= entry.recordBytes;
  }

  private write(encoded: EncodedRecord): Promise<void> {
    return new Promise<void>((done, failed) => {
      const write: InboxWrite = { encoded, done, failed };
      if (this.held !== undefined) this.held.push(write);
      else this.writer.enqueue(write);
    });
  }

  private newWriter(handle: FileHandle, length: number): GroupCommitWriter<InboxWrite> {
    return new GroupCommitWriter<InboxWrite>(handle, length, this.settings.maxWriteBytes, {
      durable: (batch) => {
        for (const write of batch) write.done();
      },
      failed: (writes, error) => {
        for (const write of writes) write.failed(new Error(`the accepted-command inbox could not write: ${error.message}`, { cause: error }));
      },
    });
  }

  /** Starts a compaction when settled records take more than `compactAfterBytes` and half the file. */
  private compactIfWasteful(): void {
    if (this.compaction !== undefined || this.closing !== undefined) return;
    const waste = this.writer.length - INBOX_MAGIC.length - this.liveBytes;
    if (waste <= this.settings.compactAfterBytes || waste * 2 <= this.writer.length) return;
    this.compaction = this.compact()
      .catch((error: unknown) => {
        this.settings.logger?.warn("could not compact the accepted-command inbox; it carries on in the old file", { inbox: this.filePath, error: String(error) });
      })
      .finally(() => {
        this.compaction = undefined;
        this.release();
      });
  }

  /**
   * Holds new writes, waits for those in flight, writes the waiting commands to `<file>.compacting`, syncs it,
   * renames it over the inbox and syncs the folder; then the held writes go to the new file.
   */
  private async compact(): Promise<void> {
    this.held = [];
    await this.writer.whenIdle();
    const records = [...this.live.values()].map((entry) => frameRecord(encodeInboxRecord({ kind: "accepted", command: entry.command })));
    const chunks = [INBOX_MAGIC, ...records.flatMap((record) => record.chunks)];
    let length = 0;
    const handle = await replaceRecordJournal(this.filePath, async (file) => {
      for (const chunk of chunks) {
        await file.write(chunk, 0, chunk.length, length);
        length += chunk.length;
      }
      await file.datasync();
    });
    const old = this.handle;
    this.handle = handle;
    this.writer = this.newWriter(handle, length);
    await old.close();
  }

  private release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const write of held) {
      try {
        this.writer.enqueue(write);
      } catch (error) {
        write.failed(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new Error(`the accepted-command inbox ${this.filePath} is closed`);
  }
}

function apply(waiting: Map<string, AcceptedCommand>, record: InboxRecord): void {
  if (record.kind === "accepted") waiting.set(record.command.commandId, record.command);
  else waiting.delete(record.commandId);
}
