import { open, type FileHandle } from "node:fs/promises";
import * as path from "node:path";

/** The first bytes of every journal: a name and a format version, so a wrong file is refused, not "replayed". */
export const JOURNAL_MAGIC = Buffer.from("RECQJNL1", "latin1");

export interface OpenedJournalFile {
  handle: FileHandle;
  /** Bytes in the file, header included. */
  size: number;
}

/**
 * Opens the journal at `filePath` for reading and positioned writes, creating it (and syncing its directory entry)
 * if missing. A file shorter than the header whose bytes are a start of it, or zeros, is a creation cut short by a
 * crash and is started over; any other header is refused.
 */
export async function openJournalFile(filePath: string, magic: Buffer = JOURNAL_MAGIC): Promise<OpenedJournalFile> {
  const handle = await openOrCreate(filePath);
  try {
    const size = (await handle.stat()).size;
    if (size >= magic.length) {
      await checkMagic(handle, filePath, magic);
      return { handle, size };
    }
    await startOver(handle, filePath, size, magic);
    return { handle, size: magic.length };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function openOrCreate(filePath: string): Promise<FileHandle> {
  try {
    return await open(filePath, "r+");
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const handle = await open(filePath, "wx+");
  await syncDirectory(path.dirname(filePath));
  return handle;
}

async function checkMagic(handle: FileHandle, filePath: string, magic: Buffer): Promise<void> {
  const header = Buffer.alloc(magic.length);
  await handle.read(header, 0, header.length, 0);
  if (!header.equals(magic)) {
    throw new Error(`${filePath} is not a ${kindOf(magic)} (format ${magic.toString("latin1")}): its first bytes are ${header.toString("hex")}`);
  }
}

async function startOver(handle: FileHandle, filePath: string, size: number, magic: Buffer): Promise<void> {
  const existing = Buffer.alloc(size);
  await handle.read(existing, 0, size, 0);
  const isCutShort = existing.equals(magic.subarray(0, size)) || existing.every((byte) => byte === 0);
  if (!isCutShort) {
    throw new Error(`${filePath} is not a ${kindOf(magic)}: ${size} bytes that do not start with its header`);
  }
  await handle.truncate(0);
  await handle.write(magic, 0, magic.length, 0);
  await handle.datasync();
}

function kindOf(magic: Buffer): string {
  return magic.equals(JOURNAL_MAGIC) ? "RECQ event journal" : "RECQ journal";
}

/** Makes a new directory entry durable: without this a crash can lose a freshly created file whole. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  // By its code, not `instanceof Error`: an error from another realm (a vm context, a test runner's sandbox) is one too.
  return typeof error === "object" && error !== null && (error as NodeJS.ErrnoException).code === "ENOENT";
}
