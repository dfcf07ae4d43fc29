import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import {
  ConnectResponse,
  Dispatch,
  GatewayFrame,
  HandlerLinkServiceService,
} from "@recq-mesh/protocol/gen/recq/v1/link";

/** A history's wire form so far: its first `count` envelopes as Dispatch.history fields, one after another. */
interface EncodedHistory {
  /** `used` bytes of encoded fields, with room to grow: an appended event costs its own bytes, not a copy of the rest. */
  bytes: Uint8Array;
  used: number;
  count: number;
  /** The history's first envelope when it was encoded: a history is only appended to, never changed in front. */
  first: EventEnvelope | undefined;
}

/**
 * Each shipped history's wire bytes, made once per envelope. The same history ships in every dispatch of its
 * aggregate until the next snapshot (an aggregate cache entry keeps it, and appends to it in place: see
 * aggregate-cache.ts); encoding it again each time was a tenth of the gateway's CPU under commands with long
 * histories, and writing it envelope by envelope, with a map entry per envelope, most of the rest. So a history
 * array maps to its fields' bytes, extended when events were appended, and a dispatch copies them in one go.
 * Envelopes are never changed after they are built (`toEnvelope`), so the bytes cannot go stale; they live as long as
 * the cache entry's history array, and weigh what its envelopes do on the wire plus room for appends (at most
 * as much again, and at most MAX_SPARE_HISTORY_BYTES). Consumers get envelopes built per read, so
 * their batches use the generated encoder: caching those would only fill the map.
 */
const historyBytes = new WeakMap<readonly EventEnvelope[], EncodedHistory>();
const NO_BYTES = new Uint8Array(0);

/** The Dispatch.history fields of `history`, from the bytes made for it before where they still hold. */
export function encodedHistory(history: readonly EventEnvelope[]): Uint8Array {
  if (history.length === 0) return NO_BYTES;
  const encoded = encodeHistory(history);
  return encoded.bytes.subarray(0, encoded.used);
}

function encodeHistory(history: readonly EventEnvelope[]): EncodedHistory {
  let encoded = historyBytes.get(history);
  if (encoded === undefined || encoded.count > history.length || encoded.first !== history[0]) {
    encoded = { bytes: new Uint8Array(0), used: 0, count: 0, first: history[0] };
    historyBytes.set(history, encoded);
  }
  if (encoded.count < history.length) {
    const writer = fieldWriters.take();
    for (let index = encoded.count; index < history.length; index++) {
      writer.uint32(lengthDelimited(DISPATCH_HISTORY)).fork();
      EventEnvelope.encode(history[index]!, writer);
      writer.join();
    }
    append(encoded, writer.finish());
    fieldWriters.giveBack(writer);
    encoded.count = history.length;
  }
  return encoded;
}

/**
 * Room a history's bytes keep for the events appended next: as much again as they hold, up to this. Growing by
 * doubling alone kept up to twice a long history's bytes; past this bound, appends cost a copy every 64 KiB of events.
 */
const MAX_SPARE_HISTORY_BYTES = 64 * 1024;

function append(encoded: EncodedHistory, fields: Uint8Array): void {
  const needed = encoded.used + fields.length;
  if (needed > encoded.bytes.length) {
    const grown = new Uint8Array(needed + Math.min(needed, MAX_SPARE_HISTORY_BYTES));
    grown.set(encoded.bytes.subarray(0, encoded.used));
    encoded.bytes = grown;
  }
  encoded.bytes.set(fields, encoded.used);
  encoded.used = needed;
}

/** A length-delimited field's tag: field number and wire type 2. */
const lengthDelimited = (field: number): number => (field << 3) | 2;
const CONNECT_RESPONSE_FRAMES = 1;
const GATEWAY_FRAME_DISPATCH = 4;
const DISPATCH_HISTORY = 7;

/**
 * A dispatch frame's wire form, made when the dispatch is sized against its handler's limit and written as is into
 * the link message: the size checked is the size sent, to the byte.
 */
interface EncodedDispatchFrame {
  /** The frame's fields but its dispatch (the metadata map). */
  frameFields: Uint8Array;
  /** The dispatch's fields but its history. */
  dispatchFields: Uint8Array;
  /** The history's fields, a view of the cached bytes as they were when the frame was sized. */
  history: Uint8Array;
}

const dispatchFrames = new WeakMap<GatewayFrame, EncodedDispatchFrame>();

/**
 * The bytes a dispatch frame takes in a link message, exactly: its ConnectResponse.frames field (tag, length and
 * frame). A message of frames is the sum of theirs. The frame is encoded for the message that will carry it.
 */
export function dispatchFrameBytes(frame: GatewayFrame, dispatch: Dispatch): number {
  return fieldBytes(frameLength(encodeDispatchFrame(frame, dispatch)));
}

/**
 * Lets go of what was encoded for a dispatch that will not be sent (it exceeds its handler's limit): a history too
 * large to send is not worth its bytes in memory.
 */
export function forgetEncodedDispatch(frame: GatewayFrame, dispatch: Dispatch): void {
  dispatchFrames.delete(frame);
  historyBytes.delete(dispatch.history);
}

function encodeDispatchFrame(frame: GatewayFrame, dispatch: Dispatch): EncodedDispatchFrame {
  let encoded = dispatchFrames.get(frame);
  if (encoded === undefined) {
    const writer = fieldWriters.take();
    const frameFields = GatewayFrame.encode({ ...frame, frame: undefined }, writer).finish();
    const dispatchFields = Dispatch.encode({ ...dispatch, history: [] }, writer).finish();
    fieldWriters.giveBack(writer);
    encoded = { frameFields, dispatchFields, history: encodedHistory(dispatch.history) };
    dispatchFrames.set(frame, encoded);
  }
  return encoded;
}

function dispatchLength(encoded: EncodedDispatchFrame): number {
  return encoded.dispatchFields.length + encoded.history.length;
}

function frameLength(encoded: EncodedDispatchFrame): number {
  return encoded.frameFields.length + fieldBytes(dispatchLength(encoded));
}

/** A length-delimited field of `length` bytes with a one-byte tag (field numbers up to 15). */
function fieldBytes(length: number): number {
  return 1 + varintBytes(length) + length;
}

function varintBytes(value: number): number {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes += 1;
  return bytes;
}

function writeDispatchFrame(encoded: EncodedDispatchFrame, writer: BinaryWriter): void {
  writer.uint32(lengthDelimited(CONNECT_RESPONSE_FRAMES)).uint32(frameLength(encoded)).raw(encoded.frameFields);
  writer.uint32(lengthDelimited(GATEWAY_FRAME_DISPATCH)).uint32(dispatchLength(encoded)).raw(encoded.dispatchFields);
  writer.raw(encoded.history);
}

/**
 * The writers of link messages and of dispatch fields, reused: a fresh one starts small and grows by doubling,
 * copying what it holds each time, for every message. `finish` copies the bytes out and keeps the buffer; a writer
 * whose buffer grew past this bound is let go, so one large message does not hold its memory for ever.
 */
const MAX_KEPT_WRITER_BYTES = 1024 * 1024;

export class SpareWriter {
  private spare: BinaryWriter | undefined;

  /** The spare writer, or a new one; taken while in use: a throw mid-message leaves it half written, and it is then simply not given back. */
  take(): BinaryWriter {
    const writer = this.spare ?? new BinaryWriter();
    this.spare = undefined;
    return writer;
  }

  giveBack(writer: BinaryWriter): void {
    if (bufferBytesOf(writer) <= MAX_KEPT_WRITER_BYTES) this.spare = writer;
  }

  /** What the kept writer's buffer holds (0 when none is kept). */
  get keptBytes(): number {
    return this.spare === undefined ? 0 : bufferBytesOf(this.spare);
  }
}

/**
 * The size of a writer's buffer, which a message's length does not tell: it doubles, and a string reserves three bytes
 * a character while it is written. `buffer` is private to @bufbuild/protobuf's BinaryWriter (2.x); a writer without it
 * counts as too large to keep.
 */
function bufferBytesOf(writer: BinaryWriter): number {
  const buffer = (writer as unknown as { buffer?: unknown }).buffer;
  return buffer instanceof Uint8Array ? buffer.byteLength : Number.POSITIVE_INFINITY;
}

const messageWriters = new SpareWriter();
const fieldWriters = new SpareWriter();

/**
 * ConnectResponse's wire form, byte for byte a valid encoding of the message (fields may come in another
 * order, which protobuf allows): a dispatch frame is written from what was encoded when it was sized, its history
 * from the history's cached bytes.
 */
export function serializeConnectResponse(response: ConnectResponse): Buffer {
  const writer = messageWriters.take();
  for (const frame of response.frames) {
    if (frame.frame?.$case === "dispatch") {
      writeDispatchFrame(encodeDispatchFrame(frame, frame.frame.value), writer);
    } else {
      writer.uint32(lengthDelimited(CONNECT_RESPONSE_FRAMES)).fork();
      GatewayFrame.encode(frame, writer);
      writer.join();
    }
  }
  const bytes = writer.finish();
  messageWriters.giveBack(writer);
  return asBuffer(bytes);
}

/** A Buffer over the writer's bytes without copying them (`finish` made them a copy of their own). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The link service as the gateway serves it: the generated definition with the Connect serializer above. */
export const GatewayLinkService = {
  ...HandlerLinkServiceService,
  connect: { ...HandlerLinkServiceService.connect, responseSerialize: serializeConnectResponse },
} as const;
