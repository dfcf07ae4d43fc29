import { createHash } from "node:crypto";
import { once } from "node:events";
import { status } from "@grpc/grpc-js";
import { GridFSBucket, MongoRuntimeError, ObjectId, ReadPreference, WriteConcern, type Db, type GridFSBucketOptions, type GridFSBucketWriteStream } from "mongodb";
import { DEFAULT_MONGODB_COMMIT_TIMEOUT_MS, MeshError, Reason } from "@recq-mesh/protocol";
import { isUnavailability } from "@recq-mesh/protocol/mongodb";
import { abortedBy, blobNotFound, blobTooLarge } from "./blob-errors";
import type { BlobReadOptions, BlobStore, BlobWriteOptions, StoredBlob } from "./blob-store";

export interface GridFsBlobStoreOptions {
  db: Db;
  /** The bucket: collections `<bucket>.files` and `<bucket>.chunks`. Default `blobs`. */
  bucketName?: string;
  /** Bytes per GridFS chunk document. Default 255 KiB, GridFS's own default. */
  chunkSizeBytes?: number;
  /**
   * How long a chunk's or the files document's write waits for a majority (`wtimeout`), default 10 s
   * (`RECQ_MONGODB_COMMIT_TIMEOUT_MS` for `openBlobStore`): past it the write fails with UNAVAILABLE
   * (STORE_UNAVAILABLE) and leaves nothing, where without a majority it would wait for ever.
   */
  majorityWaitMs?: number;
}

/**
 * A blob store in GridFS (the MongoDB driver's GridFSBucket): a blob is one GridFS file whose id is the reference
 * (an ObjectId, hex). GridFS writes the chunk documents as the content comes and the `files` document last, once
 * the content is whole: before that no reader finds the blob. A failed or aborted write deletes what it wrote
 * (`discard`). (A process that dies mid-write leaves orphan chunks without a files document: invisible, and
 * removable by their `files_id` having no file.) Any MongoDB driver reads and writes the same buckets: the GridFS
 * specification is common to all of them.
 */
export class GridFsBlobStore implements BlobStore {
  private readonly bucket: GridFSBucket;
  private readonly chunkSizeBytes: number;

  constructor(options: GridFsBlobStoreOptions) {
    this.bucket = new GridFSBucket(options.db, bucketOptions(options));
    this.chunkSizeBytes = options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES;
  }

  async write(content: AsyncIterable<Uint8Array>, options: BlobWriteOptions = {}): Promise<StoredBlob> {
    const id = new ObjectId();
    const upload = this.bucket.openUploadStreamWithId(id, id.toHexString());
    const hash = createHash("sha256");
    let size = 0;
    // A failed chunk insert is emitted as 'error': kept here (a stream error without a listener would crash the
    // process) and thrown at the next piece, or by the wait for 'drain' / 'finish'.
    let failure: { error: unknown } | undefined;
    upload.on("error", (error) => (failure ??= { error }));
    // The last write handed to the upload, settled once the stream is done with it. `write()` answers true before a
    // chunk's insert has finished; a discard that ran then would delete the chunks before that insert lands, which
    // would leave its chunk behind. The stream runs one write at a time, so the last one settled means all have.
    let lastWrite: Promise<void> = Promise.resolve();
    try {
      for await (const piece of content) {
        if (failure !== undefined) throw failure.error;
        if (options.signal?.aborted) throw abortedBy(options.signal);
        size += piece.length;
        if (options.maxBytes !== undefined && size > options.maxBytes) throw blobTooLarge(options.maxBytes);
        hash.update(piece);
        for (const part of chunkSized(piece, this.chunkSizeBytes)) {
          let writable = true;
          lastWrite = new Promise<void>((settled) => (writable = upload.write(part, () => settled())));
          if (!writable) await drained(upload);
        }
      }
      if (options.signal?.aborted) throw abortedBy(options.signal);
      upload.end();
      await once(upload, "finish");
      return { reference: id.toHexString(), size, sha256: hash.digest("hex") };
    } catch (thrown) {
      await lastWrite;
      await this.discard(upload, id);
      throw gridFsFailure(thrown, "a blob write");
    }
  }

  async *read(reference: string, options: BlobReadOptions): AsyncIterable<Buffer> {
    if (!ObjectId.isValid(reference) || reference.length !== 24) throw blobNotFound(reference);
    const download = this.bucket.openDownloadStream(new ObjectId(reference));
    const onAbort = () => download.destroy(abortedBy(options.signal!) as Error);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let allRead = false;
    try {
      // GridFS hands out its chunk documents; they are cut to the asked size here.
      let pending: Buffer = Buffer.alloc(0);
      for await (const piece of download as AsyncIterable<Buffer>) {
        pending = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
        while (pending.length >= options.chunkBytes) {
          yield pending.subarray(0, options.chunkBytes);
          pending = pending.subarray(options.chunkBytes);
        }
      }
      allRead = true;
      if (pending.length > 0) yield pending;
    } catch (thrown) {
      // The driver says "FileNotFound" with a MongoRuntimeError when there is no files document.
      if (thrown instanceof MongoRuntimeError && /FileNotFound|File not found/i.test(thrown.message)) throw blobNotFound(reference);
      throw gridFsFailure(thrown, `the read of blob ${reference}`);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      // A read that stops early (the reader went away, an abort, a damaged blob) destroys the download stream, and
      // the driver's stream closes its chunks cursor only when it runs out: the cursor would stay open on the server
      // (and its session checked out) until the server's idle-cursor timeout, 10 minutes. `abort()` kills it.
      if (!allRead) await download.abort().catch(() => undefined);
    }
  }

  async close(): Promise<void> {}

  /**
   * Leaves nothing of a failed write. The upload's `abort()` deletes the chunks written so far, but refuses once the
   * upload has ended, which is where the last chunk and the files document are written: if one of those fails, the
   * chunks would stay. And a files document whose insert failed on a network error may have been stored: the blob
   * would be readable although its write failed. `delete` removes the files document and every chunk of the id (it
   * then says "File not found" when there was none, which is expected here).
   */
  private async discard(upload: GridFSBucketWriteStream, id: ObjectId): Promise<void> {
    await upload.abort().catch(() => undefined);
    await this.bucket.delete(id).catch(() => undefined);
  }
}

/**
 * The bucket's options: `chunkSizeBytes` only when given — the driver spreads the options over its defaults, so an
 * undefined one would replace the 255 KiB default and break every write.
 *
 * Whatever the database handle or the URI says, chunks and the files document are written with majority write
 * concern, its wait bounded by `majorityWaitMs`, and read from the primary. An event carries the reference once the write resolved: a blob acknowledged by
 * the primary alone (`w=1`, or the implicit default of a set with an arbiter) could be rolled back by a failover while
 * the event that names it survives; and a download from a secondary that has not replicated the upload yet
 * (`readPreference=secondaryPreferred`) would answer NOT_FOUND for a blob that exists.
 */
export function bucketOptions(options: Omit<GridFsBlobStoreOptions, "db">): GridFSBucketOptions {
  const chunkSize = options.chunkSizeBytes === undefined ? {} : { chunkSizeBytes: options.chunkSizeBytes };
  // A majority with no wtimeout waits for ever where there is none (a PSA set with its secondary down): every upload
  // would hang. Past the wait the server answers a write concern error (code 64), which is UNAVAILABLE (gridFsFailure).
  const writeConcern = new WriteConcern("majority", options.majorityWaitMs ?? DEFAULT_MONGODB_COMMIT_TIMEOUT_MS);
  return { bucketName: options.bucketName ?? "blobs", ...chunkSize, writeConcern, readPreference: ReadPreference.primary };
}

/**
 * A failure of the server, the network or the replica set (`isUnavailability`) is UNAVAILABLE, reason
 * STORE_UNAVAILABLE, the driver's error its cause: an upload or a download then answers a status its caller may
 * retry, where the raw driver error reached it as INTERNAL. Anything else is thrown as it is.
 */
export function gridFsFailure(thrown: unknown, operation: string): unknown {
  if (!isUnavailability(thrown)) return thrown;
  return new MeshError(status.UNAVAILABLE, `${operation} failed: the blob store's MongoDB is unavailable: ${thrown instanceof Error ? thrown.message : String(thrown)}`, Reason.STORE_UNAVAILABLE, {
    cause: thrown,
  });
}

/** GridFS's own default chunk size, which the driver uses when `chunkSizeBytes` is not given. */
const DEFAULT_CHUNK_SIZE_BYTES = 255 * 1024;

/**
 * `piece` in parts of at most one chunk. The driver's upload inserts every chunk a write completes at once and calls
 * that write back at the first failure, while the others may still be in flight; a part of at most one chunk
 * completes at most one, so a write's callback comes once its insert, if any, has finished.
 */
function* chunkSized(piece: Uint8Array, chunkSizeBytes: number): Iterable<Uint8Array> {
  for (let start = 0; start < piece.length; start += chunkSizeBytes) yield piece.subarray(start, start + chunkSizeBytes);
}

function drained(upload: GridFSBucketWriteStream): Promise<void> {
  return once(upload, "drain").then(() => undefined);
}
