import type { BlobStore, BlobWriteOptions, FolderBlobStore } from "@recq-mesh/kit";

/** A folder blob store whose writes stop after their first piece until `release()`: a slow handler. */
export class HeldBlobStore implements BlobStore {
  private open: Promise<void> = Promise.resolve();
  private releaseGate: () => void = () => undefined;
  piecesRead = 0;
  /** Pieces a download has read from the folder so far. */
  piecesServed = 0;

  constructor(readonly inner: FolderBlobStore) {}

  hold(): void {
    this.open = new Promise((resolve) => (this.releaseGate = resolve));
  }

  release(): void {
    this.releaseGate();
  }

  write(content: AsyncIterable<Uint8Array>, options?: BlobWriteOptions) {
    return this.inner.write(this.slowed(content), options);
  }

  private async *slowed(content: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    for await (const piece of content) {
      this.piecesRead += 1;
      yield piece;
      await this.open;
    }
  }

  async *read(reference: string, options: { chunkBytes: number; signal?: AbortSignal }): AsyncIterable<Buffer> {
    for await (const piece of this.inner.read(reference, options)) {
      this.piecesServed += 1;
      yield piece;
    }
  }

  close() {
    return this.inner.close();
  }
}
