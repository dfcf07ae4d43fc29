import type { NewEventRecord, SnapshotRecord } from "./event-store";
import { ChunkedFieldWriter, stringFieldBytes } from "./chunked-field-writer";
import { FieldReader, RecordFormatError } from "./field-reader";
import { frameRecord, type EncodedRecord } from "./journal-frame";
import type { CommitRecord, FailureRecord, JournalRecord } from "./journal-record";

/*
 * Record bodies. Own binary layout rather than protobuf: fixed-width numbers make a record's size computable before
 * it is written (limits are checked before anything is ordered) and payloads pass to `writev` without a copy.
 *
 * commit  (kind 1): u8 kind, u48 timeMs, str commandId, str aggregateType, str aggregateId, u48 position,
 *                   u48 sequence, u32 eventCount, eventCount × event, u8 hasSnapshot, [snapshot]
 *   event:          str type, u32 metadataCount, metadataCount × (str key, str value), bytes payload
 *   snapshot:       u48 sequence, str type, bytes payload
 * failure (kind 2): u8 kind, u48 timeMs, str commandId, i32 code, str message, str reason
 *
 * str = u32 byte length + UTF-8; bytes = u32 length + raw bytes; u48 = 6 bytes little-endian.
 * The events of a commit take positions `position - eventCount + 1 ..= position` and sequences likewise.
 */

const COMMIT_KIND = 1;
const FAILURE_KIND = 2;

export function encodeJournalRecord(record: JournalRecord): EncodedRecord {
  return frameRecord(record.kind === "commit" ? encodeCommit(record) : encodeFailure(record));
}

/** Decodes a body whose checksum matched; throws `RecordFormatError` if it does not follow the layout. */
export function decodeJournalRecord(body: Buffer): JournalRecord {
  const reader = new FieldReader(body);
  const kind = reader.u8();
  const record = kind === COMMIT_KIND ? decodeCommit(reader) : kind === FAILURE_KIND ? decodeFailure(reader) : undefined;
  if (record === undefined) throw new RecordFormatError(`unknown record kind ${kind}`);
  reader.end();
  return record;
}

function encodeCommit(record: CommitRecord): { chunks: Buffer[]; byteLength: number } {
  const writer = new ChunkedFieldWriter(commitFieldBytes(record));
  writer.u8(COMMIT_KIND);
  writer.u48(record.timeMs);
  writer.string(record.commandId);
  writer.string(record.aggregateType);
  writer.string(record.aggregateId);
  writer.u48(record.position);
  writer.u48(record.sequence);
  writer.u32(record.events.length);
  for (const event of record.events) writeEvent(writer, event);
  writer.u8(record.snapshot === undefined ? 0 : 1);
  if (record.snapshot !== undefined) writeSnapshot(writer, record.snapshot);
  return writer.finish();
}

function writeEvent(writer: ChunkedFieldWriter, event: NewEventRecord): void {
  writer.string(event.type);
  const keys = Object.keys(event.metadata);
  writer.u32(keys.length);
  for (const key of keys) {
    writer.string(key);
    writer.string(event.metadata[key] ?? "");
  }
  writer.bytes(event.payload);
}

function writeSnapshot(writer: ChunkedFieldWriter, snapshot: SnapshotRecord): void {
  writer.u48(snapshot.sequence);
  writer.string(snapshot.type);
  writer.bytes(snapshot.payload);
}

/** Bytes of a commit's fields, payloads excluded (they travel as their own chunks). */
function commitFieldBytes(record: CommitRecord): number {
  let bytes = 1 + 6 + stringFieldBytes(record.commandId) + stringFieldBytes(record.aggregateType);
  bytes += stringFieldBytes(record.aggregateId) + 6 + 6 + 4;
  for (const event of record.events) bytes += eventFieldBytes(event);
  bytes += 1;
  if (record.snapshot !== undefined) bytes += 6 + stringFieldBytes(record.snapshot.type) + 4;
  return bytes;
}

function eventFieldBytes(event: NewEventRecord): number {
  let bytes = stringFieldBytes(event.type) + 4 + 4;
  for (const key of Object.keys(event.metadata)) {
    bytes += stringFieldBytes(key) + stringFieldBytes(event.metadata[key] ?? "");
  }
  return bytes;
}

function encodeFailure(record: FailureRecord): { chunks: Buffer[]; byteLength: number } {
  const { commandId, code, message, reason } = record.failure;
  const writer = new ChunkedFieldWriter(1 + 6 + stringFieldBytes(commandId) + 4 + stringFieldBytes(message) + stringFieldBytes(reason));
  writer.u8(FAILURE_KIND);
  writer.u48(record.timeMs);
  writer.string(commandId);
  writer.i32(code);
  writer.string(message);
  writer.string(reason);
  return writer.finish();
}

function decodeCommit(reader: FieldReader): CommitRecord {
  const timeMs = reader.u48();
  const commandId = reader.string();
  const aggregateType = reader.string();
  const aggregateId = reader.string();
  const position = reader.u48();
  const sequence = reader.u48();
  const eventCount = reader.u32();
  const events: NewEventRecord[] = [];
  for (let index = 0; index < eventCount; index++) events.push(readEvent(reader));
  const snapshot = reader.u8() === 1 ? readSnapshot(reader) : undefined;
  return { kind: "commit", timeMs, commandId, aggregateType, aggregateId, position, sequence, events, snapshot };
}

function readEvent(reader: FieldReader): NewEventRecord {
  const type = reader.string();
  const entries: [string, string][] = [];
  const metadataCount = reader.u32();
  for (let index = 0; index < metadataCount; index++) entries.push([reader.string(), reader.string()]);
  // fromEntries defines own properties, so a key such as "__proto__" stays data, not a prototype.
  return { type, metadata: Object.fromEntries(entries), payload: reader.bytes() };
}

function readSnapshot(reader: FieldReader): SnapshotRecord {
  const sequence = reader.u48();
  const type = reader.string();
  return { sequence, type, payload: reader.bytes() };
}

function decodeFailure(reader: FieldReader): FailureRecord {
  const timeMs = reader.u48();
  const commandId = reader.string();
  const code = reader.i32();
  const message = reader.string();
  const reason = reader.string();
  return { kind: "failure", timeMs, failure: { commandId, code, message, reason } };
}
