import { FieldReader, RecordFormatError } from "../store/field-reader";
import type { AcceptedCommand } from "./accepted-command";

/**
 * Records of the embedded inbox's journal (framed by store/journal-frame.ts, like the event journal's):
 *
 *   u8 1 "accepted"   u32 length + UTF-8 JSON of the command without its payload, then the payload's bytes
 *   u8 2 "settled"    the command id, UTF-8, to the end of the record
 */
export type InboxRecord = { kind: "accepted"; command: AcceptedCommand } | { kind: "settled"; commandId: string };

const ACCEPTED = 1;
const SETTLED = 2;

type CommandFields = Omit<AcceptedCommand, "payload">;

export function encodeInboxRecord(record: InboxRecord): { chunks: Buffer[]; byteLength: number } {
  if (record.kind === "settled") {
    const chunks = [Buffer.from([SETTLED]), Buffer.from(record.commandId, "utf8")];
    return { chunks, byteLength: chunks[0]!.length + chunks[1]!.length };
  }
  const { payload, ...fields } = record.command;
  const json = Buffer.from(JSON.stringify(fields), "utf8");
  const head = Buffer.allocUnsafe(5);
  head.writeUInt8(ACCEPTED, 0);
  head.writeUInt32LE(json.length, 1);
  return { chunks: [head, json, payload], byteLength: head.length + json.length + payload.length };
}

export function decodeInboxRecord(body: Buffer): InboxRecord {
  const reader = new FieldReader(body);
  const kind = reader.u8();
  if (kind === SETTLED) {
    const commandId = body.subarray(1).toString("utf8");
    if (commandId === "") throw new RecordFormatError("a settled record without a command id");
    return { kind: "settled", commandId };
  }
  if (kind !== ACCEPTED) throw new RecordFormatError(`unknown inbox record kind ${kind}`);
  const length = reader.u32();
  if (5 + length > body.length) throw new RecordFormatError(`an accepted record's fields run past its end (${length} bytes)`);
  const fields = parseFields(body.subarray(5, 5 + length).toString("utf8"));
  // A copy: the record's Buffer is a read window that must not be held for as long as the command waits.
  return { kind: "accepted", command: { ...fields, payload: Buffer.from(body.subarray(5 + length)) } };
}

function parseFields(json: string): CommandFields {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new RecordFormatError(`an accepted record's fields are not JSON: ${String(error)}`);
  }
  const fields = value as Partial<CommandFields> | null;
  if (
    typeof fields !== "object" ||
    fields === null ||
    typeof fields.commandId !== "string" ||
    typeof fields.method !== "string" ||
    typeof fields.acceptedAtMs !== "number" ||
    typeof fields.headers !== "object" ||
    typeof fields.trace !== "object"
  ) {
    throw new RecordFormatError("an accepted record lacks a field");
  }
  return {
    commandId: fields.commandId,
    method: fields.method,
    headers: fields.headers ?? {},
    trace: fields.trace ?? {},
    replyTo: typeof fields.replyTo === "string" ? fields.replyTo : undefined,
    acceptedAtMs: fields.acceptedAtMs,
  };
}
