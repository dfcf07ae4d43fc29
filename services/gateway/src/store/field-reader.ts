/** Thrown when a record's bytes do not follow the layout, though its checksum matched. */
export class RecordFormatError extends Error {
  override readonly name = "RecordFormatError";
}

/**
 * Reads the fields `ChunkedFieldWriter` wrote, with bounds checks. Byte fields come back as views of the source
 * Buffer, not copies: decoded payloads share the memory the journal was read into.
 */
export class FieldReader {
  private cursor = 0;

  constructor(private readonly source: Buffer) {}

  u8(): number {
    this.require(1);
    const value = this.source.readUInt8(this.cursor);
    this.cursor += 1;
    return value;
  }

  u32(): number {
    this.require(4);
    const value = this.source.readUInt32LE(this.cursor);
    this.cursor += 4;
    return value;
  }

  i32(): number {
    this.require(4);
    const value = this.source.readInt32LE(this.cursor);
    this.cursor += 4;
    return value;
  }

  u48(): number {
    this.require(6);
    const value = this.source.readUIntLE(this.cursor, 6);
    this.cursor += 6;
    return value;
  }

  string(): string {
    const length = this.u32();
    this.require(length);
    const value = this.source.toString("utf8", this.cursor, this.cursor + length);
    this.cursor += length;
    return value;
  }

  bytes(): Buffer {
    const length = this.u32();
    this.require(length);
    const value = this.source.subarray(this.cursor, this.cursor + length);
    this.cursor += length;
    return value;
  }

  /** Fails if bytes are left over: a record that decodes but is longer than its fields is not trusted either. */
  end(): void {
    if (this.cursor !== this.source.length) {
      throw new RecordFormatError(`${this.source.length - this.cursor} unexpected bytes after the record's fields`);
    }
  }

  private require(length: number): void {
    if (this.cursor + length > this.source.length) {
      throw new RecordFormatError(`record ends inside a field (needs ${length} bytes at ${this.cursor} of ${this.source.length})`);
    }
  }
}
