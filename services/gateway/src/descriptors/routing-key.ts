import { isUtf8 } from "node:buffer";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";

/*
 * The gateway never decodes a payload; it only needs the routing key of a command. These functions walk the
 * top-level fields of the protobuf wire format, skipping every value, and read nothing but the one string.
 * The scan state lives in one reused object, so that a scan allocates nothing but the key it returns.
 */

const WireType = { VARINT: 0, FIXED64: 1, LENGTH_DELIMITED: 2, START_GROUP: 3, END_GROUP: 4, FIXED32: 5 } as const;
const MAX_VARINT_BYTES = 10;
const MAX_TAG = 0xffff_ffff;
/** What a varint holds; named only in error messages, so the hot path builds no string. */
const VarintRole = { TAG: 0, VALUE: 1, LENGTH: 2 } as const;
type VarintRole = (typeof VarintRole)[keyof typeof VarintRole];
const REPLACEMENT_CHARACTER = "\uFFFD";
const EMPTY = Buffer.alloc(0);

/**
 * The routing key of a command: the value of the string field `fieldNumber` among the top-level fields of
 * the encoded request. The last occurrence wins, as when protobuf merges a message; "" when the field is absent.
 * Throws MeshError INVALID_ARGUMENT when the top-level wire structure is malformed.
 */
export function readRoutingKey(request: Buffer, fieldNumber: number): string {
  const scanner = scannerOver(request);
  try {
    let keyStart = -1;
    let keyEnd = -1;
    while (scanner.nextField()) {
      if (scanner.fieldNumber !== fieldNumber) continue;
      if (scanner.wireType !== WireType.LENGTH_DELIMITED) {
        const wireType = scanner.wireType;
        throw invalidRequest(`routing key field ${fieldNumber} has wire type ${wireType}; a string field is length-delimited (2)`);
      }
      keyStart = scanner.valueStart;
      keyEnd = scanner.valueEnd;
    }
    return keyStart < 0 ? "" : decodeKey(request, keyStart, keyEnd, fieldNumber);
  } finally {
    scanner.release();
  }
}

/**
 * Checks the top-level wire structure of a request (tags, wire types, lengths) without decoding it, so that
 * bytes which do not parse are refused with INVALID_ARGUMENT even when the method has no routing key.
 * Nested messages are not entered: their handler decodes them.
 */
export function checkWellFormed(request: Buffer): void {
  const scanner = scannerOver(request);
  try {
    while (scanner.nextField()) {
      // Walking every field is the check.
    }
  } finally {
    scanner.release();
  }
}

function decodeKey(request: Buffer, start: number, end: number, fieldNumber: number): string {
  const key = request.toString("utf8", start, end);
  // Invalid UTF-8 decodes to U+FFFD; only then is the (allocating) exact check worth its cost.
  if (key.includes(REPLACEMENT_CHARACTER) && !isUtf8(request.subarray(start, end))) {
    throw invalidRequest(`routing key field ${fieldNumber} is not valid UTF-8`);
  }
  return key;
}

function invalidRequest(detail: string): MeshError {
  return new MeshError(status.INVALID_ARGUMENT, `request is not a valid protobuf message: ${detail}`, Reason.INVALID_REQUEST);
}

/** A cursor over the top-level fields of one message. Internal: one instance, reused by every scan. */
class WireScanner {
  private bytes: Buffer = EMPTY;
  private pos = 0;
  /** Of the field nextField() last stepped over. */
  fieldNumber = 0;
  wireType = 0;
  /** Where a length-delimited value lies, for the field nextField() last stepped over. */
  valueStart = 0;
  valueEnd = 0;

  begin(bytes: Buffer): this {
    this.bytes = bytes;
    this.pos = 0;
    return this;
  }

  /** Drops the reference to the request, so the reused scanner does not keep it alive. */
  release(): void {
    this.bytes = EMPTY;
  }

  /** Steps over the next field; false at the end of the message. */
  nextField(): boolean {
    if (this.pos >= this.bytes.length) return false;
    const tagOffset = this.pos;
    const tag = this.readVarint(VarintRole.TAG);
    if (tag > MAX_TAG) throw invalidRequest(`tag at byte ${tagOffset} is out of range`);
    this.fieldNumber = Math.floor(tag / 8);
    this.wireType = tag % 8;
    if (this.fieldNumber === 0) throw invalidRequest(`field number 0 at byte ${tagOffset}`);
    this.skipValue();
    return true;
  }

  private skipValue(): void {
    switch (this.wireType) {
      case WireType.VARINT:
        this.readVarint(VarintRole.VALUE);
        return;
      case WireType.FIXED64:
        this.skipBytes(8);
        return;
      case WireType.FIXED32:
        this.skipBytes(4);
        return;
      case WireType.LENGTH_DELIMITED: {
        const length = this.readVarint(VarintRole.LENGTH);
        this.valueStart = this.pos;
        this.skipBytes(length);
        this.valueEnd = this.pos;
        return;
      }
      case WireType.START_GROUP:
      case WireType.END_GROUP:
        throw invalidRequest(`field ${this.fieldNumber} is a group (wire type ${this.wireType}); groups are not supported`);
      default:
        throw invalidRequest(`field ${this.fieldNumber} has invalid wire type ${this.wireType}`);
    }
  }

  private skipBytes(count: number): void {
    const remaining = this.bytes.length - this.pos;
    if (count > remaining) {
      throw invalidRequest(`field ${this.fieldNumber} needs ${count} bytes but only ${remaining} remain`);
    }
    this.pos += count;
  }

  /** A varint as a number: exact up to 2^53, which covers every tag and every length that can fit a buffer. */
  private readVarint(role: VarintRole): number {
    const start = this.pos;
    const bytes = this.bytes;
    let value = 0;
    let scale = 1;
    for (let index = start; index < bytes.length && index - start < MAX_VARINT_BYTES; index++) {
      const byte = bytes[index] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.pos = index + 1;
        return value;
      }
      scale *= 128;
    }
    const reason = bytes.length - start < MAX_VARINT_BYTES ? "truncated" : "longer than 10 bytes";
    throw invalidRequest(`${this.describe(role)} at byte ${start} is ${reason}`);
  }

  private describe(role: VarintRole): string {
    if (role === VarintRole.TAG) return "tag";
    return role === VarintRole.LENGTH ? `length of field ${this.fieldNumber}` : `varint of field ${this.fieldNumber}`;
  }
}

const sharedScanner = new WireScanner();

function scannerOver(request: Buffer): WireScanner {
  return sharedScanner.begin(request);
}
