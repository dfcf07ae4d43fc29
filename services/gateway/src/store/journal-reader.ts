import type { FileHandle } from "node:fs/promises";
import type { RecordLocation } from "./event-locations";
import { FRAME_HEADER_BYTES, frameChecksumMatches } from "./journal-frame";
import type { JournalRecord } from "./journal-record";
import { decodeJournalRecord } from "./journal-record-codec";

/**
 * Records whose frames lie closer than this are read in one positional read (the bytes between come along);
 * further apart, each run is its own read. Small against a read's fixed cost, large against a TodoList record.
 */
const COALESCE_GAP_BYTES = 16 * 1024;
/** A run of records is cut into reads of about this much, so a large batch never needs one huge Buffer. */
const MAX_READ_BYTES = 1024 * 1024;

/**
 * Reads committed records back from the journal by location: positional reads, coalescing neighbours (a
 * consumer's batch of consecutive positions is one read), each frame's checksum checked again. Reads only what the
 * index points at, which is durable, so they never race the writer's appends or its cut-backs past that point.
 * Decoded payloads are views of the read's Buffer.
 */
export class JournalReader {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly handle: Pick<FileHandle, "read">,
    private readonly filePath: string,
  ) {}

  /** The records at `locations` (any order, duplicates allowed), by offset. */
  async read(locations: readonly RecordLocation[]): Promise<Map<number, JournalRecord>> {
    const records = new Map<number, JournalRecord>();
    const reads = runsOf(locations).map((run) => this.track(this.readRun(run, records)));
    await Promise.all(reads);
    return records;
  }

  /** Resolves once no read is in flight: the file may then be closed. */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async readRun(run: RecordLocation[], into: Map<number, JournalRecord>): Promise<void> {
    const start = run[0]!.offset;
    const last = run[run.length - 1]!;
    const span = Buffer.allocUnsafe(last.offset + last.length - start);
    await this.readFully(span, start);
    for (const location of run) into.set(location.offset, this.decodeAt(span, location, start));
  }

  private decodeAt(span: Buffer, location: RecordLocation, spanStart: number): JournalRecord {
    return decodeFrame(span.subarray(location.offset - spanStart, location.offset - spanStart + location.length), location, this.filePath);
  }

  private async readFully(target: Buffer, position: number): Promise<void> {
    for (let filled = 0; filled < target.length; ) {
      const { bytesRead } = await this.handle.read(target, filled, target.length - filled, position + filled);
      if (bytesRead === 0) throw new Error(`the journal ${this.filePath} ended at byte ${position + filled}, before a record the store indexed`);
      filled += bytesRead;
    }
  }

  /** Counts `read` as in flight until it settles (for reads made with other means, such as a `JournalScanner`). */
  track<T>(read: Promise<T>): Promise<T> {
    this.inFlight.add(read);
    const forget = () => this.inFlight.delete(read);
    read.then(forget, forget);
    return read;
  }
}

/** Checks a frame read back against its checksum and decodes it; a mismatch means the file changed under the store. */
export function decodeFrame(frame: Buffer, location: RecordLocation, filePath: string): JournalRecord {
  const header = frame.subarray(0, FRAME_HEADER_BYTES);
  const body = frame.subarray(FRAME_HEADER_BYTES);
  if (frame.length !== location.length || header.readUInt32LE(0) !== body.length || !frameChecksumMatches(header, body)) {
    throw new Error(`the journal ${filePath} no longer holds the record it held at byte ${location.offset}: the file was changed or damaged`);
  }
  return decodeJournalRecord(body);
}

/** Distinct locations in file order, grouped into runs that each take one read. */
function runsOf(locations: readonly RecordLocation[]): RecordLocation[][] {
  const sorted = [...new Map(locations.map((location) => [location.offset, location])).values()].sort((a, b) => a.offset - b.offset);
  const runs: RecordLocation[][] = [];
  let run: RecordLocation[] = [];
  let runStart = 0;
  let runEnd = 0;
  for (const location of sorted) {
    const joins = run.length > 0 && location.offset - runEnd <= COALESCE_GAP_BYTES && location.offset + location.length - runStart <= MAX_READ_BYTES;
    if (!joins) {
      if (run.length > 0) runs.push(run);
      run = [];
      runStart = location.offset;
    }
    run.push(location);
    runEnd = location.offset + location.length;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
