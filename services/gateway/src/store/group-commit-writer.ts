import type { FileHandle } from "node:fs/promises";
import type { EncodedRecord } from "./journal-frame";

/** What the writer needs of the journal file. */
export type JournalFileHandle = Pick<FileHandle, "writev" | "datasync" | "truncate">;

/** Where the writer reports each write's fate. Both are called synchronously, in journal order, and must not throw. */
export interface GroupCommitTarget<W> {
  /** The batch's bytes are written and fdatasync'd, starting at byte `offset` of the file, in batch order. */
  durable(batch: readonly W[], offset: number): void;
  /**
   * A write or sync failed: the batch, and every write queued behind it (ordered against the failed batch, so no
   * longer valid), are rejected. The file was cut back to its last durable length when that was possible.
   */
  failed(writes: readonly W[], error: Error): void;
}

export interface GroupCommitStats {
  /** Batches written (each one `writev` of all its records, looped only on a short write). */
  writes: number;
  /** `fdatasync` calls that succeeded. */
  syncs: number;
  records: number;
  bytes: number;
}

/**
 * Group commit: the first record queued while the file is idle starts a write on the next turn of the event loop
 * (so every record queued in the same turn joins it); records queued while a write+fdatasync is in flight wait and
 * all go in the next single write+fdatasync, up to `maxWriteBytes` per write. So the number of syncs follows the
 * disk's pace, not the number of commands, and no command waits for more than the write before it and its own.
 */
export class GroupCommitWriter<W extends { readonly encoded: EncodedRecord }> {
  private queue: W[] = [];
  private flushing = false;
  private brokenBy: Error | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly counters: GroupCommitStats = { writes: 0, syncs: 0, records: 0, bytes: 0 };

  constructor(
    private readonly handle: JournalFileHandle,
    /** The journal's length: everything before it is durable. */
    private durableLength: number,
    private readonly maxWriteBytes: number,
    private readonly target: GroupCommitTarget<W>,
  ) {}

  /** Set once a failed write could not be undone: the file's end is unknown, so nothing more may be written. */
  get failure(): Error | undefined {
    return this.brokenBy;
  }

  get length(): number {
    return this.durableLength;
  }

  stats(): GroupCommitStats {
    return { ...this.counters };
  }

  /** Queues a record; its fate arrives through the target. A record must not exceed `maxWriteBytes`. */
  enqueue(write: W): void {
    if (this.brokenBy !== undefined) throw this.brokenBy;
    this.queue.push(write);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => void this.flush());
  }

  /** Resolves once nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (!this.flushing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.writeBatch(this.takeBatch());
    } catch (error) {
      // Only a target that broke its promise not to throw gets here; stop rather than write past an unknown state.
      this.brokenBy = new Error("the event journal writer stopped after an internal error; reopen the store", { cause: error });
      this.target.failed(this.queue.splice(0), this.brokenBy);
    } finally {
      this.flushing = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** The oldest queued records that fit in one write; always at least one. */
  private takeBatch(): W[] {
    let bytes = 0;
    let count = 0;
    for (const write of this.queue) {
      if (count > 0 && bytes + write.encoded.byteLength > this.maxWriteBytes) break;
      bytes += write.encoded.byteLength;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  private async writeBatch(batch: W[]): Promise<void> {
    const chunks = batch.flatMap((write) => write.encoded.chunks);
    const bytes = batch.reduce((sum, write) => sum + write.encoded.byteLength, 0);
    try {
      await writeFully(this.handle, chunks, bytes, this.durableLength);
      this.counters.writes += 1;
      await this.handle.datasync();
      this.counters.syncs += 1;
    } catch (error) {
      await this.undo(batch, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const offset = this.durableLength;
    this.durableLength += bytes;
    this.counters.records += batch.length;
    this.counters.bytes += bytes;
    this.target.durable(batch, offset);
  }

  /**
   * Cuts the file back to its durable length, so a half-written batch can never sit in front of later records.
   * The queue is taken after the cut, so records queued meanwhile fail with the batch they were ordered behind.
   */
  private async undo(batch: W[], error: Error): Promise<void> {
    try {
      await this.handle.truncate(this.durableLength);
      await this.handle.datasync();
    } catch (undoError) {
      const detail = undoError instanceof Error ? undoError.message : String(undoError);
      this.brokenBy = new Error(
        `the event journal is unusable: a write failed (${error.message}) and cutting it back failed too (${detail}); reopen the store`,
        { cause: undoError },
      );
    }
    this.target.failed(batch.concat(this.queue.splice(0)), error);
  }
}

/** `writev` until every byte is written; a short write continues where it stopped. */
async function writeFully(handle: JournalFileHandle, chunks: Buffer[], byteLength: number, position: number): Promise<void> {
  let pending = chunks;
  for (let written = 0; written < byteLength; ) {
    const { bytesWritten } = await handle.writev(pending, position + written);
    if (bytesWritten <= 0) throw new Error(`the journal accepted no bytes at offset ${position + written}`);
    written += bytesWritten;
    pending = dropLeadingBytes(pending, bytesWritten);
  }
}

function dropLeadingBytes(chunks: Buffer[], count: number): Buffer[] {
  let index = 0;
  let remaining = count;
  while (index < chunks.length && remaining >= chunks[index].length) {
    remaining -= chunks[index].length;
    index += 1;
  }
  if (index === chunks.length) return [];
  return [chunks[index].subarray(remaining), ...chunks.slice(index + 1)];
}
