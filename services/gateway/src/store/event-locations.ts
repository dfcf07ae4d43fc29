/** Where a journal record's frame sits: its first byte, and its length with the frame header. */
export interface RecordLocation {
  readonly offset: number;
  readonly length: number;
}

/** One entry for every this many positions: 8 bytes per 64 events. */
export const POSITIONS_PER_ENTRY = 64;
/** Entries per chunk: 65,536 × 8 bytes = 512 KiB, for 4 million positions; allocated whole when the last fills. */
const CHUNK_ENTRIES = 65_536;
/**
 * The last this many positions are indexed exactly (32 KiB): a consumer on the live tail starts at its own record,
 * never behind a run of failure records that came between two indexed positions.
 */
const RECENT_POSITIONS = 4096;

/** Where to start reading the journal for a position: an indexed position at or before it, and its record. */
export interface ScanStart {
  readonly position: number;
  readonly offset: number;
}

/**
 * A sparse index of global positions: for positions 1, 65, 129, … (every `POSITIONS_PER_ENTRY`th), the journal
 * offset of the record that holds the event. A reader starts at the entry at or before the position it wants and
 * walks the records from there, so the index costs 1/8 of a byte per event, not an entry per event: memory does
 * not follow the length of the history. Chunks of fixed size, so growing never copies. The most recent positions
 * are also held exactly, in a ring.
 */
export class EventLocations {
  private readonly chunks: Float64Array[] = [];
  /** Positions recorded, and entries stored: one for each indexed position among them. */
  private count = 0;
  private entries = 0;
  private readonly recent = new Float64Array(RECENT_POSITIONS);
  /** Positions after this one are in `recent` (a restored index has none of its positions there). */
  private recentAfter = 0;

  /** Positions recorded: the last one is `size`. */
  get size(): number {
    return this.count;
  }

  /** Records that the next `events` positions are held by the record at `offset`. */
  add(events: number, offset: number): void {
    const first = this.count + 1;
    this.count += events;
    for (let position = nextIndexed(first); position <= this.count; position += POSITIONS_PER_ENTRY) this.push(offset);
    for (let position = Math.max(first, this.count - RECENT_POSITIONS + 1); position <= this.count; position++) {
      this.recent[(position - 1) % RECENT_POSITIONS] = offset;
    }
  }

  /** The indexed position at or before `position` (1 ..= size), and the offset of its record. */
  scanStart(position: number): ScanStart {
    if (!Number.isInteger(position) || position < 1 || position > this.count) throw new RangeError(`no event at position ${position}`);
    if (position > Math.max(this.recentAfter, this.count - RECENT_POSITIONS)) return { position, offset: this.recent[(position - 1) % RECENT_POSITIONS]! };
    const entry = Math.floor((position - 1) / POSITIONS_PER_ENTRY);
    const offset = this.chunks[Math.floor(entry / CHUNK_ENTRIES)]![entry % CHUNK_ENTRIES]!;
    return { position: entry * POSITIONS_PER_ENTRY + 1, offset };
  }

  /** The entries, chunk by chunk, as views (for a checkpoint). */
  *parts(): Iterable<Float64Array> {
    for (let index = 0; index < this.chunks.length; index++) yield this.chunks[index]!.subarray(0, Math.min(CHUNK_ENTRIES, this.entries - index * CHUNK_ENTRIES));
  }

  /** Restores `size` positions whose entries `fill` writes into the arrays it is given, chunk by chunk (from a checkpoint). */
  async restore(size: number, fill: (offsets: Float64Array) => Promise<void>): Promise<void> {
    if (this.count !== 0) throw new Error("restore needs an empty index");
    for (let remaining = entriesFor(size); remaining > 0; remaining -= CHUNK_ENTRIES) {
      const chunk = new Float64Array(CHUNK_ENTRIES);
      await fill(chunk.subarray(0, Math.min(CHUNK_ENTRIES, remaining)));
      this.chunks.push(chunk);
    }
    this.count = size;
    this.entries = entriesFor(size);
    this.recentAfter = size;
  }

  /** Bytes the arrays take. */
  get allocatedBytes(): number {
    return this.chunks.length * CHUNK_ENTRIES * 8 + this.recent.byteLength;
  }

  private push(offset: number): void {
    if (this.entries % CHUNK_ENTRIES === 0) this.chunks.push(new Float64Array(CHUNK_ENTRIES));
    this.chunks[this.chunks.length - 1]![this.entries % CHUNK_ENTRIES] = offset;
    this.entries += 1;
  }
}

/** The first indexed position at or after `position`. */
function nextIndexed(position: number): number {
  return Math.ceil((position - 1) / POSITIONS_PER_ENTRY) * POSITIONS_PER_ENTRY + 1;
}

function entriesFor(size: number): number {
  return Math.ceil(size / POSITIONS_PER_ENTRY);
}
