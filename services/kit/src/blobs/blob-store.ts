/** What a blob store answers once content is stored: what an event carries in place of the content. */
export interface StoredBlob {
  /** The store's name for the content: what `read` takes. */
  reference: string;
  /** Bytes of the content. */
  size: number;
  /** SHA-256 of the content, lowercase hex. */
  sha256: string;
}

export interface BlobWriteOptions {
  /** Aborting it ends the write; nothing is kept. */
  signal?: AbortSignal;
  /** More content than this fails the write with RESOURCE_EXHAUSTED; nothing is kept. */
  maxBytes?: number;
}

export interface BlobReadOptions {
  /** Bytes per piece read (the last may be shorter). */
  chunkBytes: number;
  signal?: AbortSignal;
}

/**
 * Where large content lives, apart from the event store: events carry a StoredBlob, never the bytes. A write is all
 * or nothing — content becomes readable only once whole and durable; a write that fails or is aborted leaves
 * nothing behind. docs/large-data.md describes the adapters (a folder, GridFS) and their on-disk formats, so that a
 * handler in another language can share them.
 */
export interface BlobStore {
  write(content: AsyncIterable<Uint8Array>, options?: BlobWriteOptions): Promise<StoredBlob>;
  /** The content in pieces; NOT_FOUND (a MeshError) when there is no blob by that reference. */
  read(reference: string, options: BlobReadOptions): AsyncIterable<Buffer>;
  close(): Promise<void>;
}
