/**
 * Writes a record's small fields into one preallocated Buffer and passes large byte fields (event payloads) through
 * as chunks of their own, so a payload is never copied on its way to the journal: the chunks go to `writev` as they
 * are. Integers are little-endian; strings are UTF-8 with a u32 byte length before them.
 */
export class ChunkedFieldWriter {
  private readonly fields: Buffer;
  private cursor = 0;
  private chunkStart = 0;
  private readonly chunks: Buffer[] = [];
  private payloadBytes = 0;

  /** `fieldBytes` must be exactly what the calls will write, excluding the bytes passed to `bytes`. */
  constructor(fieldBytes: number) {
    this.fields = Buffer.allocUnsafe(fieldBytes);
  }

  u8(value: number): void {
    this.cursor = this.fields.writeUInt8(value, this.cursor);
  }

  u32(value: number): void {
    this.cursor = this.fields.writeUInt32LE(value, this.cursor);
  }

  i32(value: number): void {
    this.cursor = this.fields.writeInt32LE(value, this.cursor);
  }

  /** Positions, sequences and times: exact up to 2^48 - 1, and a RangeError beyond rather than a silent wrap. */
  u48(value: number): void {
    this.cursor = this.fields.writeUIntLE(value, this.cursor, 6);
  }

  string(value: string): void {
    const length = this.fields.write(value, this.cursor + 4, "utf8");
    this.fields.writeUInt32LE(length, this.cursor);
    this.cursor += 4 + length;
  }

  /** A length, then the bytes as their own chunk. */
  bytes(value: Buffer): void {
    this.u32(value.length);
    if (value.length === 0) return;
    this.cutFieldChunk();
    this.chunks.push(value);
    this.payloadBytes += value.length;
  }

  /** The chunks in order and their total length. */
  finish(): { chunks: Buffer[]; byteLength: number } {
    if (this.cursor !== this.fields.length) {
      throw new Error(`record field size mismatch: measured ${this.fields.length} bytes, wrote ${this.cursor}`);
    }
    this.cutFieldChunk();
    return { chunks: this.chunks, byteLength: this.fields.length + this.payloadBytes };
  }

  private cutFieldChunk(): void {
    if (this.cursor > this.chunkStart) this.chunks.push(this.fields.subarray(this.chunkStart, this.cursor));
    this.chunkStart = this.cursor;
  }
}

/** Bytes `ChunkedFieldWriter.string` takes for `value`. */
export function stringFieldBytes(value: string): number {
  return 4 + Buffer.byteLength(value, "utf8");
}
