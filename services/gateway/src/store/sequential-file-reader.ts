import type { FileHandle } from "node:fs/promises";

/**
 * Reads a file front to back through a window of fresh Buffers. Slices are views into a window, never copies, and
 * a window is never reused: a slice stays valid for as long as someone holds it.
 */
export class SequentialFileReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;
  private readBytes = 0;

  constructor(
    private readonly handle: Pick<FileHandle, "read">,
    private readonly fileSize: number,
    private readonly readAheadBytes = 1024 * 1024,
  ) {}

  /** Bytes read from the file so far. */
  get bytesRead(): number {
    return this.readBytes;
  }

  /** Bytes `[offset, offset + length)`, or undefined when the file ends before them. */
  async slice(offset: number, length: number): Promise<Buffer | undefined> {
    if (offset + length > this.fileSize) return undefined;
    if (offset < this.windowStart || offset + length > this.windowStart + this.window.length) {
      await this.moveWindow(offset, length);
    }
    const start = offset - this.windowStart;
    return this.window.subarray(start, start + length);
  }

  /** Whether every byte from `offset` to the end of the file is zero: what a crash leaves in space never written. */
  async isZeroFrom(offset: number): Promise<boolean> {
    for (let at = offset; at < this.fileSize; at += this.readAheadBytes) {
      const chunk = await this.slice(at, Math.min(this.readAheadBytes, this.fileSize - at));
      if (chunk === undefined || chunk.some((byte) => byte !== 0)) return false;
    }
    return true;
  }

  private async moveWindow(offset: number, length: number): Promise<void> {
    const size = Math.min(Math.max(this.readAheadBytes, length), this.fileSize - offset);
    const next = Buffer.allocUnsafe(size);
    const kept = this.copyOverlap(next, offset);
    await this.readFully(next, kept, offset + kept);
    this.window = next;
    this.windowStart = offset;
  }

  /** Copies what the old window already holds from `offset` on; returns how many bytes that was. */
  private copyOverlap(next: Buffer, offset: number): number {
    const windowEnd = this.windowStart + this.window.length;
    if (offset < this.windowStart || offset >= windowEnd) return 0;
    return this.window.copy(next, 0, offset - this.windowStart, Math.min(windowEnd - this.windowStart, offset - this.windowStart + next.length));
  }

  private async readFully(target: Buffer, from: number, filePosition: number): Promise<void> {
    for (let filled = from; filled < target.length; ) {
      const { bytesRead } = await this.handle.read(target, filled, target.length - filled, filePosition + filled - from);
      if (bytesRead === 0) throw new Error(`file ended at byte ${filePosition + filled - from} while reading; it shrank under the reader`);
      filled += bytesRead;
      this.readBytes += bytesRead;
    }
  }
}
