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
 * the cache entry's history array, and roughly double what it weighs. Consumers get envelopes built per read, so
 * their batches use the generated encoder: caching those would only fill the map.
 */
const historyBytes = new WeakMap<readonly EventEnvelope[], EncodedHistory>();

/** The Dispatch.history fields of `history`, from the bytes made for it before where they still hold. */
export function encodedHistory(history: readonly EventEnvelope[]): Uint8Array {
  const encoded = encodeHistory(history);
  return encoded.bytes.subarray(0, encoded.used);
}

/** The bytes of `history`'s Dispatch.history fields: exact, and the encoding is then ready for the dispatch. */
export function encodedHistoryLength(history: readonly EventEnvelope[]): number {
  return history.length === 0 ? 0 : encodeHistory(history).used;
}

function encodeHistory(history: readonly EventEnvelope[]): EncodedHistory {
  let encoded = historyBytes.get(history);
  if (encoded === undefined || encoded.count > history.length || encoded.first !== history[0]) {
    encoded = { bytes: new Uint8Array(0), used: 0, count: 0, first: history[0] };
    historyBytes.set(history, encoded);
  }
  if (encoded.count < history.length) {
    const writer = new BinaryWriter();
    for (let index = encoded.count; index < history.length; index++) {
      writer.uint32(lengthDelimited(DISPATCH_HISTORY)).fork();
      EventEnvelope.encode(history[index]!, writer);
      writer.join();
    }
    append(encoded, writer.finish());
    encoded.count = history.length;
  }
  return encoded;
}

function append(encoded: EncodedHistory, fields: Uint8Array): void {
  const needed = encoded.used + fields.length;
  if (needed > encoded.bytes.length) {
    const grown = new Uint8Array(Math.max(needed, 2 * encoded.bytes.length));
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
 * One writer for every link message, reused: a fresh one starts small and grows by doubling, copying what it holds
 * each time, for every message. `finish` copies the bytes out and keeps the buffer; a writer that grew past this
 * bound is let go, so one large message does not hold its memory for ever.
 */
const MAX_KEPT_WRITER_BYTES = 1024 * 1024;
let spareWriter: BinaryWriter | undefined;

/**
 * ConnectResponse's wire form, byte for byte a valid encoding of the message (fields may come in another
 * order, which protobuf allows): dispatch histories are written from their cached bytes.
 */
export function serializeConnectResponse(response: ConnectResponse): Buffer {
  // Taken while in use: a throw mid-message leaves it half written, and it is then simply not given back.
  const writer = spareWriter ?? new BinaryWriter();
  spareWriter = undefined;
  for (const frame of response.frames) {
    writer.uint32(lengthDelimited(CONNECT_RESPONSE_FRAMES)).fork();
    if (frame.frame?.$case === "dispatch" && frame.frame.value.history.length > 0) {
      writeDispatchFrame(frame, frame.frame.value, writer);
    } else {
      GatewayFrame.encode(frame, writer);
    }
    writer.join();
  }
  const bytes = writer.finish();
  if (bytes.length <= MAX_KEPT_WRITER_BYTES) spareWriter = writer;
  return asBuffer(bytes);
}

function writeDispatchFrame(frame: GatewayFrame, dispatch: Dispatch, writer: BinaryWriter): void {
  GatewayFrame.encode({ ...frame, frame: undefined }, writer);
  writer.uint32(lengthDelimited(GATEWAY_FRAME_DISPATCH)).fork();
  Dispatch.encode({ ...dispatch, history: [] }, writer);
  writer.raw(encodedHistory(dispatch.history));
  writer.join();
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
