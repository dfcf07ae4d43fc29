import { open, rename, rm, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { crc32 } from "node:zlib";
import { EventIndex, type AggregateStream } from "./event-index";
import { EventLocations, POSITIONS_PER_ENTRY, type RecordLocation } from "./event-locations";
import { syncDirectory } from "./journal-file";
import { FRAME_HEADER_BYTES } from "./journal-frame";
import { OutcomeRegistry, type LogChunk } from "./outcome-registry";
import { SequentialFileReader } from "./sequential-file-reader";

export const CHECKPOINT_FILE_NAME = "index.checkpoint";
const MAGIC = Buffer.from("RECQIDX2", "latin1");

/*
 * The indexes as they stood after a prefix of the journal, so that opening replays only what follows. Layout (LE):
 *
 *   "RECQIDX2", f64 journalLength, f64 lastOffset, u32 lastLength, u32 lastChecksum, f64 records,
 *   f64 events, then the sparse position index: f64[] offsets, one per 64 events, in chunks of 65,536,
 *   f64 aggregates, then per aggregate: str key, f64 sequence, u8 hasSnapshot, [f64 offset, u32 length],
 *                                        u32 count, f64[count] records after the snapshot (offset, length pairs),
 *   outcome parts: u32 count, f64[] offsets, u32[] lengths, f64[] times, f64[] hashes; a count of 0 ends them,
 *   u32 CRC-32 of everything before it.
 *
 * It is trusted only if its checksum matches and the journal still holds, at `lastOffset`, a frame of
 * `lastLength` bytes whose own checksum is `lastChecksum`, ending at `journalLength`: the journal only grows, so
 * then the prefix is the one the checkpoint was taken of. Anything else and it is ignored: the journal is replayed.
 */

/** What a checkpoint holds, and where in the journal replay goes on from. */
export interface CheckpointState {
  /** The journal bytes it covers; the last record ends here. */
  journalLength: number;
  lastRecord: RecordLocation;
  /** Records in those bytes. */
  records: number;
  index: EventIndex;
  outcomes: OutcomeRegistry;
}

export type LoadedCheckpoint = { kind: "loaded"; state: CheckpointState } | { kind: "ignored"; reason: string } | { kind: "none" };

/** Writes the checkpoint next to the journal, atomically: a temporary file, synced, renamed over the old one. */
export async function writeCheckpoint(directory: string, journal: FileHandle, state: CheckpointState): Promise<void> {
  const checksum = await frameChecksumAt(journal, state.lastRecord);
  const target = path.join(directory, CHECKPOINT_FILE_NAME);
  const temporary = `${target}.tmp`;
  const handle = await open(temporary, "w");
  try {
    const writer = new CheckpointWriter(handle);
    await writer.f64(state.journalLength).f64(state.lastRecord.offset).u32(state.lastRecord.length).u32(checksum).f64(state.records).flush();
    await writeIndex(writer, state.index);
    for (const part of state.outcomes.parts()) await writer.u32(part.offsets.length).arrays([part.offsets, part.lengths, part.times, part.hashes]);
    await writer.u32(0).finish();
    await handle.datasync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, target);
  await syncDirectory(directory);
}

/** Reads the checkpoint in `directory` if there is one and it is valid for `journal`. */
export async function loadCheckpoint(directory: string, journal: { handle: FileHandle; size: number }, retentionMs: number, nowMs: number): Promise<LoadedCheckpoint> {
  let handle: FileHandle;
  try {
    handle = await open(path.join(directory, CHECKPOINT_FILE_NAME), "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "none" };
    throw error;
  }
  try {
    const reader = new CheckpointReader(handle, (await handle.stat()).size);
    if (!(await reader.take(MAGIC.length)).equals(MAGIC)) return { kind: "ignored", reason: "it is not an index checkpoint" };
    const journalLength = await reader.f64();
    const lastRecord = { offset: await reader.f64(), length: await reader.u32() };
    const lastChecksum = await reader.u32();
    const records = await reader.f64();
    const stale = await staleness(journal, journalLength, lastRecord, lastChecksum);
    if (stale !== undefined) return { kind: "ignored", reason: stale };
    const index = await readIndex(reader);
    const outcomes = new OutcomeRegistry(retentionMs);
    for (let count = await reader.u32(); count > 0; count = await reader.u32()) outcomes.restore(await readOutcomePart(reader, count), nowMs);
    if (!(await reader.checksumMatches())) return { kind: "ignored", reason: "its checksum does not match" };
    return { kind: "loaded", state: { journalLength, lastRecord, records, index, outcomes } };
  } catch (error) {
    return { kind: "ignored", reason: `it could not be read (${error instanceof Error ? error.message : String(error)})` };
  } finally {
    await handle.close();
  }
}

async function writeIndex(writer: CheckpointWriter, index: EventIndex): Promise<void> {
  const { locations, streams } = index.parts();
  await writer.f64(locations.size).flush();
  for (const part of locations.parts()) await writer.arrays([part]);
  await writer.f64(streams.size).flush();
  for (const [key, stream] of streams) {
    writer.string(key).f64(stream.sequence).u8(stream.snapshot === undefined ? 0 : 1);
    if (stream.snapshot !== undefined) writer.f64(stream.snapshot.offset).u32(stream.snapshot.length);
    await writer.u32(stream.afterSnapshot.length).arrays([Float64Array.from(stream.afterSnapshot)]);
  }
}

async function readIndex(reader: CheckpointReader): Promise<EventIndex> {
  const locations = new EventLocations();
  const events = await reader.f64();
  reader.holding(Math.ceil(events / POSITIONS_PER_ENTRY), 8);
  await locations.restore(events, (offsets) => reader.fill(offsets));
  const streams = new Map<string, AggregateStream>();
  for (let remaining = await reader.f64(); remaining > 0; remaining--) {
    const key = await reader.string();
    const sequence = await reader.f64();
    const snapshot = (await reader.u8()) === 1 ? { offset: await reader.f64(), length: await reader.u32() } : undefined;
    const positions = new Float64Array(reader.holding(await reader.u32(), 8));
    await reader.fill(positions);
    streams.set(key, { sequence, snapshot, afterSnapshot: Array.from(positions) });
  }
  return new EventIndex(locations, streams);
}

async function readOutcomePart(reader: CheckpointReader, count: number): Promise<LogChunk> {
  reader.holding(count, 28);
  const part = { offsets: new Float64Array(count), lengths: new Uint32Array(count), times: new Float64Array(count), hashes: new Float64Array(count) };
  for (const array of [part.offsets, part.lengths, part.times, part.hashes]) await reader.fill(array);
  return part;
}

/** Why the journal is not the one the checkpoint was taken of, or undefined when it is. */
async function staleness(journal: { handle: FileHandle; size: number }, journalLength: number, last: RecordLocation, checksum: number): Promise<string | undefined> {
  if (journalLength > journal.size) return `it covers ${journalLength} bytes of the journal, which has ${journal.size}`;
  if (last.offset + last.length !== journalLength || last.length <= FRAME_HEADER_BYTES) return "its last record does not end where it says";
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  await journal.handle.read(header, 0, FRAME_HEADER_BYTES, last.offset);
  if (header.readUInt32LE(0) !== last.length - FRAME_HEADER_BYTES || header.readUInt32LE(4) !== checksum) {
    return `the journal no longer holds its last record at byte ${last.offset}`;
  }
  return undefined;
}

async function frameChecksumAt(journal: FileHandle, location: RecordLocation): Promise<number> {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  await journal.read(header, 0, FRAME_HEADER_BYTES, location.offset);
  return header.readUInt32LE(4);
}

type NumberArray = Float64Array | Uint32Array;

function bytesOf(array: NumberArray): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

/** Small fields gathered in a Buffer, arrays written as they are; a running CRC-32 of everything written. */
class CheckpointWriter {
  private fields = Buffer.allocUnsafe(64 * 1024);
  private used = 0;
  private position = 0;
  private checksum = 0;

  constructor(private readonly handle: FileHandle) {
    this.fields.set(MAGIC);
    this.used = MAGIC.length;
  }

  u8(value: number): this {
    this.reserve(1);
    this.used = this.fields.writeUInt8(value, this.used);
    return this;
  }

  u32(value: number): this {
    this.reserve(4);
    this.used = this.fields.writeUInt32LE(value, this.used);
    return this;
  }

  f64(value: number): this {
    this.reserve(8);
    this.used = this.fields.writeDoubleLE(value, this.used);
    return this;
  }

  string(value: string): this {
    const bytes = Buffer.from(value, "utf8");
    this.u32(bytes.length);
    this.reserve(bytes.length);
    this.used += bytes.copy(this.fields, this.used);
    return this;
  }

  /** Small arrays join the gathered fields; large ones are written from their own memory, uncopied. */
  async arrays(arrays: readonly NumberArray[]): Promise<void> {
    const bytes = arrays.reduce((sum, array) => sum + array.byteLength, 0);
    if (bytes <= 4096) {
      this.reserve(bytes);
      for (const array of arrays) this.used += bytesOf(array).copy(this.fields, this.used);
      return;
    }
    await this.flush();
    for (const array of arrays) await this.write(bytesOf(array));
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const pending = this.fields.subarray(0, this.used);
    this.fields = Buffer.allocUnsafe(this.fields.length);
    this.used = 0;
    await this.write(pending);
  }

  /** Writes what is gathered, then the checksum of everything. */
  async finish(): Promise<void> {
    await this.flush();
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32LE(this.checksum, 0);
    await this.handle.write(trailer, 0, 4, this.position);
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.fields.length) return;
    const larger = Buffer.allocUnsafe(Math.max(2 * this.fields.length, this.used + bytes));
    this.fields.copy(larger, 0, 0, this.used);
    this.fields = larger;
  }

  private async write(bytes: Buffer): Promise<void> {
    this.checksum = crc32(bytes, this.checksum);
    for (let written = 0; written < bytes.length; ) {
      const { bytesWritten } = await this.handle.write(bytes, written, bytes.length - written, this.position + written);
      written += bytesWritten;
    }
    this.position += bytes.length;
  }
}

/** Reads what `CheckpointWriter` wrote, front to back, with a running CRC-32; fails at the file's end. */
class CheckpointReader {
  private readonly file: SequentialFileReader;
  private position = 0;
  private checksum = 0;

  constructor(
    handle: FileHandle,
    private readonly size: number,
  ) {
    this.file = new SequentialFileReader(handle, size);
  }

  async take(length: number): Promise<Buffer> {
    const bytes = await this.file.slice(this.position, length);
    if (bytes === undefined) throw new Error(`it ends before byte ${this.position + length}`);
    this.position += length;
    this.checksum = crc32(bytes, this.checksum);
    return bytes;
  }

  /** `count`, once it is clear the file has `count` × `bytesEach` more bytes: a damaged count allocates nothing. */
  holding(count: number, bytesEach: number): number {
    if (this.position + count * bytesEach > this.size) throw new Error(`it claims ${count} entries at byte ${this.position}, more than it holds`);
    return count;
  }

  async u8(): Promise<number> {
    return (await this.take(1)).readUInt8(0);
  }

  async u32(): Promise<number> {
    return (await this.take(4)).readUInt32LE(0);
  }

  async f64(): Promise<number> {
    const value = (await this.take(8)).readDoubleLE(0);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`it holds ${value} where a count or an offset belongs`);
    return value;
  }

  async string(): Promise<string> {
    return (await this.take(await this.u32())).toString("utf8");
  }

  async fill(array: NumberArray): Promise<void> {
    (await this.take(array.byteLength)).copy(bytesOf(array));
  }

  /** Whether the trailer matches what was read, and nothing follows it. */
  async checksumMatches(): Promise<boolean> {
    const trailer = await this.file.slice(this.position, 4);
    return trailer !== undefined && this.position + 4 === this.size && trailer.readUInt32LE(0) === this.checksum >>> 0;
  }
}
