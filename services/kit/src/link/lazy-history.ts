import { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { ConnectResponse, Dispatch, GatewayFrame } from "@recq-mesh/protocol/gen/recq/v1/link";

const CONNECT_RESPONSE_FRAMES = 1;
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
 * Any message this does not expect (a field twice, an unknown wire type) is left to the generated decoder.
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
  if (dispatches.length > 1 || dispatchField.wireType !== LENGTH_DELIMITED) return undefined;
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
  dispatch.history = history.map((field) => new LazyEnvelope(bytes, field!.start, field!.end));
  frame.frame = { $case: "dispatch", value: dispatch };
  return frame;
}

/**
 * An EventEnvelope decoded from its bytes on the first read of any of its fields. It keeps the link message it came
 * in alive until then, which lasts as long as the dispatch it belongs to runs.
 */
export class LazyEnvelope implements EventEnvelope {
  private decoded: EventEnvelope | undefined;

  constructor(
    private readonly source: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {}

  private get envelope(): EventEnvelope {
    return (this.decoded ??= EventEnvelope.decode(this.source.subarray(this.start, this.end)));
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
