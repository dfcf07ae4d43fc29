import { mkdir, open, rename, unlink, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import type { StoreLogger } from "./embedded-store-options";
import { openJournalFile, syncDirectory } from "./journal-file";
import { JournalLock } from "./journal-lock";
import { replayFrames, type ReplayFrameApply } from "./journal-replay";

/**
 * A small journal of keyed records beside the event journal (the accepted-command inbox, the parked events): one
 * file with its own header, locked against a second gateway, replayed whole at open, compacted by writing the live
 * records to `<file>.compacting` and renaming it over the old one — so a crash leaves one of the two whole.
 */
export interface RecordJournalOptions {
  directory: string;
  fileName: string;
  lockName: string;
  magic: Buffer;
  /** The largest frame a write makes: a torn tail is at most that long. */
  maxTornTailBytes: number;
  /** What the file is, for the torn-tail warning ("the parked-event store"). */
  describedAs: string;
  logger: StoreLogger | undefined;
}

export interface OpenedRecordJournal {
  filePath: string;
  handle: FileHandle;
  /** Where the next record goes: the end of the last whole frame. */
  endOffset: number;
  lock: JournalLock;
}

const COMPACTING_SUFFIX = ".compacting";

/**
 * Locks the folder, drops a compaction a crash cut short (the old file is still whole), opens the journal, hands
 * every frame's body to `apply` in order, and cuts off a torn tail (logged). Releases what it took if it fails.
 */
export async function openRecordJournal(options: RecordJournalOptions, apply: ReplayFrameApply): Promise<OpenedRecordJournal> {
  await mkdir(options.directory, { recursive: true });
  const lock = await JournalLock.acquire(options.directory, options.lockName);
  try {
    const filePath = path.join(options.directory, options.fileName);
    await unlink(filePath + COMPACTING_SUFFIX).catch(() => undefined);
    const file = await openJournalFile(filePath, options.magic);
    try {
      const replay = await replayFrames({ filePath, handle: file.handle, size: file.size, maxTornTailBytes: options.maxTornTailBytes }, apply);
      if (replay.tornTail !== undefined) {
        await file.handle.truncate(replay.tornTail.offset);
        await file.handle.datasync();
        options.logger?.warn(`${options.describedAs} ended in a torn write, as a crash mid-write leaves it; the incomplete end was cut off`, {
          file: filePath,
          ...replay.tornTail,
        });
      }
      return { filePath, handle: file.handle, endOffset: replay.endOffset, lock };
    } catch (error) {
      await file.handle.close();
      throw error;
    }
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/**
 * Writes a compacted journal with `write` (given the new file's handle; it writes the header and the live records
 * and syncs them), renames it over `filePath` and syncs the folder. Resolves with the new file's handle; the caller
 * closes the old one. On failure the partial file is removed and the old journal stays as it was.
 */
export async function replaceRecordJournal(filePath: string, write: (handle: FileHandle) => Promise<void>): Promise<FileHandle> {
  const target = filePath + COMPACTING_SUFFIX;
  const handle = await open(target, "w+");
  try {
    await write(handle);
    await rename(target, filePath);
    await syncDirectory(path.dirname(filePath));
    return handle;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(target).catch(() => undefined);
    throw error;
  }
}
