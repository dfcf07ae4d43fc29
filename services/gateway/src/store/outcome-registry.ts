import type { RecordLocation } from "./event-locations";
import type { CommandOutcome } from "./event-store";
import type { JournalRecord } from "./journal-record";

/** The outcome a journal record stands for. */
export function outcomeOf(record: JournalRecord): CommandOutcome {
  if (record.kind === "failure") return { kind: "failed", ...record.failure };
  return { kind: "succeeded", commandId: record.commandId, position: record.position, sequence: record.sequence };
}

/** The id a journal record records an outcome for. */
export function commandIdOf(record: JournalRecord): string {
  return record.kind === "commit" ? record.commandId : record.failure.commandId;
}

/** A 52-bit hash of a command id: two 32-bit FNV-1a hashes with different seeds, 20 bits of one above the other. */
export function commandIdHash(commandId: string): number {
  let low = 0x811c9dc5;
  let high = 0x050c5d1f;
  for (let index = 0; index < commandId.length; index++) {
    const code = commandId.charCodeAt(index);
    low = Math.imul(low ^ code, 0x01000193);
    high = Math.imul(high ^ code, 0x01000193);
  }
  return (high >>> 12) * 2 ** 32 + (low >>> 0);
}

/** Log entries per chunk: 65,536 × 28 bytes = 1.75 MiB. */
const CHUNK_ENTRIES = 65_536;
const MIN_TABLE_SLOTS = 1024;
/** The table is rebuilt (dead slots dropped, sized for the live entries) when this share of its slots is used. */
const MAX_TABLE_LOAD = 0.75;

export interface LogChunk {
  readonly offsets: Float64Array;
  readonly lengths: Uint32Array;
  readonly times: Float64Array;
  readonly hashes: Float64Array;
}

/**
 * Where the outcomes within retention are, by command id: not the outcomes themselves, which stay in the journal
 * and are read back on a hit (a repeated command id: rare), but a log of the records in journal order (offset,
 * length, time and the id's hash: 28 bytes each, in chunks) and an open-addressing table from hash to log entry
 * (8 bytes a slot, 1.3 to 4 slots per entry). About 40 to 60 bytes per outcome, where a Map of ids to
 * outcome objects takes 200 and more. A hash can match another id's record, so a hit is a candidate that the
 * caller checks against the record's command id.
 *
 * Expiry follows journal order: pruning moves the log's front past the entries older than retention and drops
 * whole chunks; table slots that point before the front are dead, skipped, and dropped at the next rebuild.
 */
export class OutcomeRegistry {
  private readonly chunks: LogChunk[] = [];
  /** Entries are numbered from 0 for the registry's lifetime; the first chunk held holds entry firstChunk × CHUNK_ENTRIES. */
  private firstChunk = 0;
  private first = 0;
  private next = 0;
  /** Slots hold entry number + 1; 0 is empty. */
  private table = new Float64Array(MIN_TABLE_SLOTS);
  private usedSlots = 0;

  constructor(
    private readonly retentionMs: number,
    private readonly hash: (commandId: string) => number = commandIdHash,
  ) {}

  /** Outcomes held (a repeated id counts each time, until its older records expire). */
  get size(): number {
    return this.next - this.first;
  }

  /** Bytes of the log and the table. */
  get allocatedBytes(): number {
    return this.chunks.length * CHUNK_ENTRIES * 28 + this.table.length * 8;
  }

  /** Records that the record at `location`, written at `recordedAtMs`, holds the outcome of `commandId`. */
  record(commandId: string, location: RecordLocation, recordedAtMs: number, nowMs: number): void {
    if (this.isExpired(recordedAtMs, nowMs)) return;
    const hash = this.hash(commandId);
    const entry = this.appendToLog(hash, location, recordedAtMs);
    if (this.usedSlots + 1 > MAX_TABLE_LOAD * this.table.length) this.rebuildTable();
    else this.insert(hash, entry);
  }

  /** The live log, chunk by chunk, as views in journal order (for a checkpoint). */
  *parts(): Iterable<LogChunk> {
    for (let start = this.first; start < this.next; ) {
      const [chunk, at] = this.slotInLog(start);
      const end = Math.min(this.next - start, CHUNK_ENTRIES - at) + at;
      yield { offsets: chunk.offsets.subarray(at, end), lengths: chunk.lengths.subarray(at, end), times: chunk.times.subarray(at, end), hashes: chunk.hashes.subarray(at, end) };
      start += end - at;
    }
  }

  /** Appends the entries of `part` that are within retention at `nowMs` (from a checkpoint, in journal order). */
  restore(part: LogChunk, nowMs: number): void {
    for (let index = 0; index < part.offsets.length; index++) {
      const recordedAtMs = part.times[index]!;
      if (this.isExpired(recordedAtMs, nowMs)) continue;
      const hash = part.hashes[index]!;
      const entry = this.appendToLog(hash, { offset: part.offsets[index]!, length: part.lengths[index]! }, recordedAtMs);
      if (this.usedSlots + 1 > MAX_TABLE_LOAD * this.table.length) this.rebuildTable();
      else this.insert(hash, entry);
    }
  }

  private appendToLog(hash: number, location: RecordLocation, recordedAtMs: number): number {
    const entry = this.next;
    if (entry % CHUNK_ENTRIES === 0) this.chunks.push(newChunk());
    const [chunk, at] = this.slotInLog(entry);
    chunk.offsets[at] = location.offset;
    chunk.lengths[at] = location.length;
    chunk.times[at] = recordedAtMs;
    chunk.hashes[at] = hash;
    this.next += 1;
    return entry;
  }

  /** Records within retention that may hold `commandId`'s outcome, newest first. */
  candidates(commandId: string, nowMs: number): RecordLocation[] {
    const hash = this.hash(commandId);
    const found: RecordLocation[] = [];
    const mask = this.table.length - 1;
    for (let slot = slotOf(hash, mask); this.table[slot] !== 0; slot = (slot + 1) & mask) {
      const entry = this.table[slot]! - 1;
      if (entry < this.first) continue;
      const [chunk, at] = this.slotInLog(entry);
      if (chunk.hashes[at] !== hash || this.isExpired(chunk.times[at]!, nowMs)) continue;
      found.push({ offset: chunk.offsets[at]!, length: chunk.lengths[at]! });
    }
    return found.sort((a, b) => b.offset - a.offset);
  }

  /** Forgets expired outcomes; returns how many. */
  prune(nowMs: number): number {
    const before = this.first;
    while (this.first < this.next) {
      const [chunk, at] = this.slotInLog(this.first);
      if (!this.isExpired(chunk.times[at]!, nowMs)) break;
      this.first += 1;
    }
    while (this.chunks.length > 0 && (this.firstChunk + 1) * CHUNK_ENTRIES <= this.first) {
      this.chunks.shift();
      this.firstChunk += 1;
    }
    return this.first - before;
  }

  private slotInLog(entry: number): [LogChunk, number] {
    const chunkNumber = Math.floor(entry / CHUNK_ENTRIES);
    return [this.chunks[chunkNumber - this.firstChunk]!, entry - chunkNumber * CHUNK_ENTRIES];
  }

  private insert(hash: number, entry: number): void {
    const mask = this.table.length - 1;
    let slot = slotOf(hash, mask);
    while (this.table[slot] !== 0) slot = (slot + 1) & mask;
    this.table[slot] = entry + 1;
    this.usedSlots += 1;
  }

  /** A table of the live entries only, at most half full. O(live entries), amortised over the inserts that filled it. */
  private rebuildTable(): void {
    let slots = MIN_TABLE_SLOTS;
    while (slots < 2 * this.size) slots *= 2;
    this.table = new Float64Array(slots);
    this.usedSlots = 0;
    for (let entry = this.first; entry < this.next; entry++) {
      const [chunk, at] = this.slotInLog(entry);
      this.insert(chunk.hashes[at]!, entry);
    }
  }

  private isExpired(recordedAtMs: number, nowMs: number): boolean {
    return nowMs - recordedAtMs >= this.retentionMs;
  }
}

function newChunk(): LogChunk {
  return {
    offsets: new Float64Array(CHUNK_ENTRIES),
    lengths: new Uint32Array(CHUNK_ENTRIES),
    times: new Float64Array(CHUNK_ENTRIES),
    hashes: new Float64Array(CHUNK_ENTRIES),
  };
}

function slotOf(hash: number, mask: number): number {
  return (hash >>> 0) & mask;
}
