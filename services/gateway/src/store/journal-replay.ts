import type { FileHandle } from "node:fs/promises";
import type { RecordLocation } from "./event-locations";
import { RecordFormatError } from "./field-reader";
import { JOURNAL_MAGIC } from "./journal-file";
import { FRAME_HEADER_BYTES, MAX_FRAME_BODY_BYTES, frameChecksumMatches } from "./journal-frame";
import type { JournalRecord } from "./journal-record";
import { decodeJournalRecord } from "./journal-record-codec";
import { SequentialFileReader } from "./sequential-file-reader";

/** The journal holds damage that a crash cannot explain; the store refuses to open rather than drop data. */
export class JournalCorruptionError extends Error {
  override readonly name = "JournalCorruptionError";

  constructor(
    readonly filePath: string,
    readonly offset: number,
    readonly intactRecords: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `Journal ${filePath} is damaged at byte ${offset}: ${detail}. The ${intactRecords} records before it are intact; ` +
        `restore the file from a backup, or truncate it to ${offset} bytes to keep only those.`,
      options,
    );
  }
}

/** The end of the journal that a crash during the last write left incomplete; the store cuts it off. */
export interface TornTail {
  /** Where the first incomplete record starts: the journal's length after the cut. */
  offset: number;
  /** Bytes cut off. */
  bytes: number;
  reason: string;
}

export interface ReplayResult {
  /** Records replayed, counting those before `start`. */
  records: number;
  /** The last complete record, if any (before `start` if none follows it). */
  lastRecord: RecordLocation | undefined;
  /** Where the next record goes. */
  endOffset: number;
  tornTail: TornTail | undefined;
}

export interface ReplaySource {
  filePath: string;
  handle: FileHandle;
  size: number;
  /**
   * The most bytes one write can add: only the last write can be torn by a crash (each one is synced before the
   * next starts), so damage further from the end than this is corruption, not a torn tail.
   */
  maxTornTailBytes: number;
  /** Where to begin, when a checkpoint already holds what comes before: a record boundary, and records before it. */
  start?: { offset: number; records: number; lastRecord: RecordLocation };
}

/** Receives each replayed record with where its frame sits in the journal. */
export type ReplayApply = (record: JournalRecord, location: RecordLocation) => void;
/** Receives each replayed frame's body (checksum checked) with where the frame sits; throws if it does not decode. */
export type ReplayFrameApply = (body: Buffer, location: RecordLocation) => void;

/**
 * Reads every record in order and hands it to `apply`. Damage in the last write's reach — a record cut short, a
 * checksum mismatch in the final record, zeros to the end — is reported as a torn tail; any other damage, a record
 * that passes its checksum but does not decode, or one `apply` rejects, throws `JournalCorruptionError`.
 */
export function replayJournal(source: ReplaySource, apply: ReplayApply): Promise<ReplayResult> {
  return replayFrames(source, (body, location) => apply(decodeJournalRecord(body), location));
}

/**
 * `replayJournal` for any file of the journal's framing (the accepted-command inbox is one): the same torn-tail and
 * corruption rules, with the decoding left to `apply` (a `RecordFormatError` it throws reads as "does not decode").
 */
export async function replayFrames(source: ReplaySource, apply: ReplayFrameApply): Promise<ReplayResult> {
  const reader = new SequentialFileReader(source.handle, source.size);
  let records = source.start?.records ?? 0;
  let offset = source.start?.offset ?? JOURNAL_MAGIC.length;
  let lastRecord = source.start?.lastRecord;
  const damage = (end: number | undefined, reason: string) => classifyDamage(source, reader, { offset, end, reason, records, lastRecord });
  while (offset < source.size) {
    const header = await reader.slice(offset, FRAME_HEADER_BYTES);
    if (header === undefined) return damage(undefined, "an incomplete record header");
    const bodyLength = header.readUInt32LE(0);
    const end = offset + FRAME_HEADER_BYTES + bodyLength;
    if (bodyLength === 0 || bodyLength > MAX_FRAME_BODY_BYTES) return damage(end, `an impossible record length ${bodyLength}`);
    const body = await reader.slice(offset + FRAME_HEADER_BYTES, bodyLength);
    if (body === undefined) return damage(end, "a record cut short by the end of the file");
    if (!frameChecksumMatches(header, body)) return damage(end, "a record whose checksum does not match");
    applyRecord(source, { offset, length: end - offset, records }, body, apply);
    lastRecord = { offset, length: end - offset };
    records += 1;
    offset = end;
  }
  return { records, lastRecord, endOffset: offset, tornTail: undefined };
}

function applyRecord(source: ReplaySource, at: RecordLocation & { records: number }, body: Buffer, apply: ReplayFrameApply): void {
  try {
    apply(body, { offset: at.offset, length: at.length });
  } catch (error) {
    const what = error instanceof RecordFormatError ? "a record that passes its checksum but does not decode" : "a record inconsistent with those before it";
    const detail = `${what} (${error instanceof Error ? error.message : String(error)})`;
    throw new JournalCorruptionError(source.filePath, at.offset, at.records, detail, { cause: error });
  }
}

interface Damage {
  offset: number;
  /** Where the damaged record claims to end, when its header could be read. */
  end: number | undefined;
  reason: string;
  records: number;
  lastRecord: RecordLocation | undefined;
}

async function classifyDamage(source: ReplaySource, reader: SequentialFileReader, damage: Damage): Promise<ReplayResult> {
  const remaining = source.size - damage.offset;
  if (remaining > source.maxTornTailBytes) {
    const detail = `${damage.reason}, ${remaining} bytes before the end, farther than one write (${source.maxTornTailBytes} bytes) reaches`;
    throw new JournalCorruptionError(source.filePath, damage.offset, damage.records, detail);
  }
  const reachesEnd = damage.end === undefined || damage.end >= source.size;
  if (!reachesEnd && !(await reader.isZeroFrom(damage.offset))) {
    const following = source.size - (damage.end ?? source.size);
    const detail = `${damage.reason}, followed by ${following} more bytes: damage inside the journal, not a torn tail`;
    throw new JournalCorruptionError(source.filePath, damage.offset, damage.records, detail);
  }
  return {
    records: damage.records,
    lastRecord: damage.lastRecord,
    endOffset: damage.offset,
    tornTail: { offset: damage.offset, bytes: remaining, reason: damage.reason },
  };
}
