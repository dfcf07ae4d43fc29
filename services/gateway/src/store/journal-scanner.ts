import type { FileHandle } from "node:fs/promises";
import type { RecordLocation } from "./event-locations";
import { FRAME_HEADER_BYTES } from "./journal-frame";
import type { JournalRecord } from "./journal-record";
import { decodeFrame } from "./journal-reader";
import { SequentialFileReader } from "./sequential-file-reader";

/** Read-ahead of a scan: a consumer's batch of 500 small events is about 80 KiB of journal. */
const SCAN_READ_AHEAD_BYTES = 256 * 1024;

/**
 * Walks committed records front to back from a known record boundary, up to a durable length: how `readAll` finds
 * the events after a sparse index entry. Headers give each record's length; a body is read and decoded only when
 * asked for, with its checksum checked again.
 */
export class JournalScanner {
  private readonly file: SequentialFileReader;

  constructor(
    handle: Pick<FileHandle, "read">,
    private readonly filePath: string,
    /** The durable length: nothing at or past it is read. */
    readonly end: number,
  ) {
    this.file = new SequentialFileReader(handle, end, SCAN_READ_AHEAD_BYTES);
  }

  /** Bytes this scan read from the journal file. */
  get bytesRead(): number {
    return this.file.bytesRead;
  }

  /** The record that starts at `offset`, a record boundary before `end`. */
  async locationAt(offset: number): Promise<RecordLocation> {
    const header = await this.file.slice(offset, FRAME_HEADER_BYTES);
    const length = header === undefined ? 0 : FRAME_HEADER_BYTES + header.readUInt32LE(0);
    if (header === undefined || offset + length > this.end) {
      throw new Error(`the journal ${this.filePath} no longer holds a whole record at byte ${offset}: the file was changed or damaged`);
    }
    return { offset, length };
  }

  async recordAt(location: RecordLocation): Promise<JournalRecord> {
    const frame = await this.file.slice(location.offset, location.length);
    if (frame === undefined) throw new Error(`the journal ${this.filePath} ends inside the record at byte ${location.offset}`);
    return decodeFrame(frame, location, this.filePath);
  }
}
