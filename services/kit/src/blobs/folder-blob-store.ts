import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { syncFolder } from "../files/sync-folder";
import path from "node:path";
import { abortedBy, blobNotFound, blobTooLarge } from "./blob-errors";
import type { BlobReadOptions, BlobStore, BlobWriteOptions, StoredBlob } from "./blob-store";

/** Where writes in progress live, inside the store's folder (same file system: a rename moves them in atomically). */
const TEMP_FOLDER = ".incoming";
/** A reference is the name of a file in the folder: a UUID, nothing that could name another path. */
const REFERENCE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A blob store in a folder: each blob one file named by its reference (a random UUID). A write goes to a temporary
 * file under `.incoming/`, is fsync'd, renamed into the folder and the folder fsync'd: a blob exists whole and
 * durable, or not at all. Whatever is left in `.incoming/` (a crash mid-write) is removed when the store opens; a
 * failed or aborted write removes its own file.
 */
export class FolderBlobStore implements BlobStore {
  private constructor(readonly folder: string) {}

  static async open(folder: string): Promise<FolderBlobStore> {
    const resolved = path.resolve(folder);
    await rm(path.join(resolved, TEMP_FOLDER), { recursive: true, force: true });
    await mkdir(path.join(resolved, TEMP_FOLDER), { recursive: true });
    return new FolderBlobStore(resolved);
  }

  async write(content: AsyncIterable<Uint8Array>, options: BlobWriteOptions = {}): Promise<StoredBlob> {
    const reference = randomUUID();
    const temporary = path.join(this.folder, TEMP_FOLDER, reference);
    const file = await open(temporary, "wx");
    const hash = createHash("sha256");
    let size = 0;
    let closed = false;
    try {
      for await (const piece of content) {
        if (options.signal?.aborted) throw abortedBy(options.signal);
        size += piece.length;
        if (options.maxBytes !== undefined && size > options.maxBytes) throw blobTooLarge(options.maxBytes);
        hash.update(piece);
        await file.write(piece);
      }
      if (options.signal?.aborted) throw abortedBy(options.signal);
      await file.sync();
      await file.close();
      closed = true;
      await rename(temporary, path.join(this.folder, reference));
      await syncFolder(this.folder);
      return { reference, size, sha256: hash.digest("hex") };
    } catch (thrown) {
      if (!closed) await file.close().catch(() => undefined);
      await rm(temporary, { force: true });
      throw thrown;
    }
  }

  async *read(reference: string, options: BlobReadOptions): AsyncIterable<Buffer> {
    if (!REFERENCE.test(reference)) throw blobNotFound(reference);
    const file = path.join(this.folder, reference);
    try {
      await stat(file);
    } catch {
      throw blobNotFound(reference);
    }
    const stream = createReadStream(file, { highWaterMark: options.chunkBytes, signal: options.signal });
    for await (const piece of stream as AsyncIterable<Buffer>) yield piece;
  }

  /** Names of the writes in progress: empty once every write has ended, whichever way (for tests and checks). */
  async incoming(): Promise<string[]> {
    return readdir(path.join(this.folder, TEMP_FOLDER));
  }

  async close(): Promise<void> {}
}

/** A rename is durable once the folder holding the new name is: fsync the folder. */
