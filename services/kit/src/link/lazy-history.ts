import { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { ConnectResponse, Dispatch, GatewayFrame } from "@recq-mesh/protocol/gen/recq/v1/link";

const CONNECT_RESPONSE_FRAMES = 1;
const GATEWAY_FRAME_METADATA = 1;
const GATEWAY_FRAME_DISPATCH = 4;
const DISPATCH_HISTORY = 7;
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/**
 * The link's ConnectResponse decoder on the handler's side: the generated one, except that a dispatch's history
 * envelopes are decoded only when read. A handler with the aggregate's state cached reads two or three envelopes of
 * a history of dozens (see `AggregateStateCache`); decoding them all was a fifth of a handler's CPU under commands.
 * Any message this does not expect (a field twice, an unknown wire type, a frame with a dispatch and anything but its
 * metadata) is left to the generated decoder.
 *
 * So a history envelope that is not a valid EventEnvelope fails where it is read: the fold of its dispatch throws, and
 * that dispatch alone fails (INTERNAL), where the generated decoder refused the whole link message on receipt (the
 * link dropped, every call on it lost). Checking each envelope on receipt would be most of the decoding this saves.
 */
export function deserializeConnectResponse(bytes: Buffer): ConnectResponse {
  const frames: GatewayFrame[] = [];
  for (const field of fieldsOf(bytes, 0, bytes.length)) {
    if (field?.number !== CONNECT_RESPONSE_FRAMES || field.wireType !== LENGTH_DELIMITED) return ConnectResponse.decode(bytes);
    const frame = decodeFrame(bytes, field.start, field.end);
    if (frame === undefined) return ConnectResponse.decode(bytes);
    frames.push(frame);
  }
  return { frames };
}

/** A GatewayFrame; a dispatch's history left encoded. Undefined when the frame is not as expected. */
function decodeFrame(bytes: Buffer, start: number, end: number): GatewayFrame | undefined {
  const fields = fieldsOf(bytes, start, end);
  if (fields.some((field) => field === undefined)) return undefined;
  const dispatches = fields.filter((field) => field!.number === GATEWAY_FRAME_DISPATCH);
  const dispatchField = dispatches[0];
  if (dispatchField === undefined) return GatewayFrame.decode(bytes.subarray(start, end));
  // One dispatch beside the metadata, nothing else: with another member of the frame's oneof after it, that member
  // is the frame (the last one read wins), which only the generated decoder gets right.
  if (dispatches.length > 1 || dispatchField.wireType !== LENGTH_DELIMITED) return undefined;
  if (fields.some((field) => field !== dispatchField && (field!.number !== GATEWAY_FRAME_METADATA || field!.wireType !== LENGTH_DELIMITED))) return undefined;
  const dispatchFields = fieldsOf(bytes, dispatchField.start, dispatchField.end);
  if (dispatchFields.some((field) => field === undefined)) return undefined;
  const history = dispatchFields.filter((field) => field!.number === DISPATCH_HISTORY);
  if (history.length === 0) return GatewayFrame.decode(bytes.subarray(start, end));
  if (history.some((field) => field!.wireType !== LENGTH_DELIMITED)) return undefined;
  // The frame without its dispatch, and the dispatch without its history: small copies, decoded as usual.
  const frame = GatewayFrame.decode(Buffer.concat(fields.filter((field) => field !== dispatchField).map((field) => bytes.subarray(field!.tagStart, field!.end))));
  const dispatch = Dispatch.decode(
    Buffer.concat(dispatchFields.filter((field) => field!.number !== DISPATCH_HISTORY).map((field) => bytes.subarray(field!.tagStart, field!.end))),
  );
  // The history's bytes copied out of the link message (up to its limit, and other dispatches' too): a dispatch that
  // runs long keeps its own history alive, not the message it came in.
  const spanStart = history[0]!.start;
  const span = Buffer.from(bytes.subarray(spanStart, history[history.length - 1]!.end));
  dispatch.history = history.map((field) => new LazyEnvelope(span, field!.start - spanStart, field!.end - spanStart));
  frame.frame = { $case: "dispatch", value: dispatch };
  return frame;
}

/**
 * An EventEnvelope decoded from its bytes on the first read of any of its fields. Until then it keeps its dispatch's
 * history bytes alive (shared by the dispatch's envelopes); once decoded, it lets go of them.
 */
export class LazyEnvelope implements EventEnvelope {
  private decoded: EventEnvelope | undefined;
  private source: Buffer | undefined;

  constructor(
    source: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {
    this.source = source;
  }

  private get envelope(): EventEnvelope {
    if (this.decoded === undefined) {
      this.decoded = EventEnvelope.decode(this.source!.subarray(this.start, this.end));
      this.source = undefined;
    }
    return this.decoded;
  }

  get position(): string {
    return this.envelope.position;
  }
  get aggregateType(): string {
    return this.envelope.aggregateType;
  }
  get aggregateId(): string {
    return this.envelope.aggregateId;
  }
  get sequence(): string {
    return this.envelope.sequence;
  }
  get type(): string {
    return this.envelope.type;
  }
  get payload(): Buffer {
    return this.envelope.payload;
  }
  get time(): Date | undefined {
    return this.envelope.time;
  }
  get commandId(): string {
    return this.envelope.commandId;
  }
  get metadata(): { [key: string]: string } {
    return this.envelope.metadata;
  }

  /** As a plain envelope, for logs and comparisons. */
  toJSON(): EventEnvelope {
    return this.envelope;
  }
}

/** A field of a message: its number, wire type, where its tag starts and where its value starts and ends. */
interface Field {
  number: number;
  wireType: number;
  tagStart: number;
  start: number;
  end: number;
}

/** The fields of the message in `bytes[start, end)`; an undefined entry where one cannot be read. */
function fieldsOf(bytes: Buffer, start: number, end: number): (Field | undefined)[] {
  const fields: (Field | undefined)[] = [];
  for (let at = start; at < end; ) {
    const tagStart = at;
    const tag = readVarint(bytes, at, end);
    if (tag === undefined) return [...fields, undefined];
    at = tag.next;
    const wireType = tag.value & 7;
    let valueStart = at;
    let valueEnd: number;
    if (wireType === VARINT) {
      const value = readVarint(bytes, at, end);
      if (value === undefined) return [...fields, undefined];
      valueEnd = value.next;
    } else if (wireType === FIXED64) {
      valueEnd = at + 8;
    } else if (wireType === FIXED32) {
      valueEnd = at + 4;
    } else if (wireType === LENGTH_DELIMITED) {
      const length = readVarint(bytes, at, end);
      if (length === undefined) return [...fields, undefined];
      valueStart = length.next;
      valueEnd = valueStart + length.value;
    } else {
      return [...fields, undefined];
    }
    if (valueEnd > end) return [...fields, undefined];
    fields.push({ number: Math.floor(tag.value / 8), wireType, tagStart, start: valueStart, end: valueEnd });
    at = valueEnd;
  }
  return fields;
}

/** A varint of up to 53 bits (lengths, tags; a longer one is skipped correctly, its value imprecise). */
function readVarint(bytes: Buffer, start: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  let factor = 1;
  for (let at = start; at < end && at < start + 10; at++) {
    const byte = bytes[at]!;
    value += (byte & 0x7f) * factor;
    if (byte < 0x80) return { value, next: at + 1 };
    factor *= 128;
  }
  return undefined;
}
