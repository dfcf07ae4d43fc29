/** Where a journal record's frame sits: its first byte, and its length with the frame header. */
export interface RecordLocation {
  readonly offset: number;
  readonly length: number;
}

/** Entries per chunk: 65,536 × 12 bytes = 768 KiB, allocated whole when the previous one fills. */
const CHUNK_ENTRIES = 65_536;

interface Chunk {
  readonly offsets: Float64Array;
  readonly lengths: Uint32Array;
}

/**
 * For each event by global position, the location of the journal record that holds it: 12 bytes per event in
 * typed arrays (a Float64 offset, exact up to 2^53, and a Uint32 frame length), rather than an object with its
 * payload. Chunks of fixed size, so growing never copies and never reserves more than one chunk ahead.
 */
export class EventLocations {
  private readonly chunks: Chunk[] = [];
  private count = 0;

  /** Positions recorded: the last one is `size`. */
  get size(): number {
    return this.count;
  }

  /** Records the next position's record. */
  push(location: RecordLocation): void {
    const index = this.count % CHUNK_ENTRIES;
    if (index === 0) this.chunks.push({ offsets: new Float64Array(CHUNK_ENTRIES), lengths: new Uint32Array(CHUNK_ENTRIES) });
    const chunk = this.chunks[this.chunks.length - 1]!;
    chunk.offsets[index] = location.offset;
    chunk.lengths[index] = location.length;
    this.count += 1;
  }

  /** The record holding the event at `position` (1 ..= size). */
  at(position: number): RecordLocation {
    if (!Number.isInteger(position) || position < 1 || position > this.count) throw new RangeError(`no event at position ${position}`);
    const chunk = this.chunks[Math.floor((position - 1) / CHUNK_ENTRIES)]!;
    const index = (position - 1) % CHUNK_ENTRIES;
    return { offset: chunk.offsets[index]!, length: chunk.lengths[index]! };
  }

  /** The recorded entries, chunk by chunk, as views (for a checkpoint). */
  *parts(): Iterable<{ offsets: Float64Array; lengths: Uint32Array }> {
    for (let index = 0; index < this.chunks.length; index++) {
      const entries = Math.min(CHUNK_ENTRIES, this.count - index * CHUNK_ENTRIES);
      yield { offsets: this.chunks[index]!.offsets.subarray(0, entries), lengths: this.chunks[index]!.lengths.subarray(0, entries) };
    }
  }

  /** Appends `count` entries that `fill` writes into the arrays it is given (from a checkpoint). */
  async restore(count: number, fill: (offsets: Float64Array, lengths: Uint32Array) => Promise<void>): Promise<void> {
    if (this.count % CHUNK_ENTRIES !== 0) throw new Error("restore needs a whole number of chunks before it");
    for (let remaining = count; remaining > 0; ) {
      const entries = Math.min(CHUNK_ENTRIES, remaining);
      const chunk = { offsets: new Float64Array(CHUNK_ENTRIES), lengths: new Uint32Array(CHUNK_ENTRIES) };
      await fill(chunk.offsets.subarray(0, entries), chunk.lengths.subarray(0, entries));
      this.chunks.push(chunk);
      this.count += entries;
      remaining -= entries;
    }
  }

  /** Bytes the arrays take. */
  get allocatedBytes(): number {
    return this.chunks.length * CHUNK_ENTRIES * 12;
  }
}
