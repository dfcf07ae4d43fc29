import { RecordFormatError } from "../../store/field-reader";
import type { ParkedEntry } from "./parked-event-store";

/**
 * Records of the embedded parked-event journal (framed by store/journal-frame.ts, like the event journal's), each
 * one UTF-8 JSON object: parked events are few and small, and a readable record helps whoever inspects the file.
 */
export type ParkedRecord =
  | { kind: "parked"; entry: ParkedEntry }
  | { kind: "failed"; consumer: string; position: number; error: string; attempts: number }
  | { kind: "removed"; consumer: string; positions: number[] };

export function encodeParkedRecord(record: ParkedRecord): { chunks: Buffer[]; byteLength: number } {
  const body = Buffer.from(JSON.stringify(record), "utf8");
  return { chunks: [body], byteLength: body.length };
}

export function decodeParkedRecord(body: Buffer): ParkedRecord {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new RecordFormatError(`a parked-event record is not JSON: ${String(error)}`);
  }
  const record = value as Partial<Record<string, unknown>> | null;
  if (typeof record !== "object" || record === null) throw new RecordFormatError("a parked-event record is not an object");
  switch (record.kind) {
    case "parked":
      return { kind: "parked", entry: entryOf(record.entry) };
    case "failed":
      if (typeof record.consumer !== "string" || typeof record.position !== "number" || typeof record.error !== "string" || typeof record.attempts !== "number") {
        throw new RecordFormatError("a failed record lacks a field");
      }
      return { kind: "failed", consumer: record.consumer, position: record.position, error: record.error, attempts: record.attempts };
    case "removed":
      if (typeof record.consumer !== "string" || !Array.isArray(record.positions) || !record.positions.every((p) => typeof p === "number")) {
        throw new RecordFormatError("a removed record lacks a field");
      }
      return { kind: "removed", consumer: record.consumer, positions: record.positions as number[] };
    default:
      throw new RecordFormatError(`unknown parked-event record kind ${String(record.kind)}`);
  }
}

function entryOf(value: unknown): ParkedEntry {
  const entry = value as Partial<ParkedEntry> | null;
  if (
    typeof entry !== "object" ||
    entry === null ||
    typeof entry.consumer !== "string" ||
    typeof entry.position !== "number" ||
    typeof entry.aggregateType !== "string" ||
    typeof entry.aggregateId !== "string" ||
    typeof entry.eventType !== "string" ||
    typeof entry.error !== "string" ||
    typeof entry.attempts !== "number" ||
    typeof entry.parkedAtMs !== "number"
  ) {
    throw new RecordFormatError("a parked record lacks a field");
  }
  return {
    consumer: entry.consumer,
    position: entry.position,
    aggregateType: entry.aggregateType,
    aggregateId: entry.aggregateId,
    eventType: entry.eventType,
    error: entry.error,
    attempts: entry.attempts,
    parkedAtMs: entry.parkedAtMs,
  };
}
