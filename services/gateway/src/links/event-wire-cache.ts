import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import {
  ConnectResponse,
  Dispatch,
  GatewayFrame,
  HandlerLinkServiceService,
} from "@recq-mesh/protocol/gen/recq/v1/link";

/**
 * Each event envelope's wire bytes, made once. The same envelope ships in every dispatch of its aggregate
 * until the next snapshot (an aggregate cache entry keeps its envelopes); encoding it again each time was a
 * tenth of the gateway's CPU under commands with long histories. Envelopes are never changed after they are
 * built (`toEnvelope`), so their bytes cannot go stale; they live as long as the cache entry holding the
 * envelope, and roughly double what an entry's history weighs. Consumers get envelopes built per read, so
 * their batches use the generated encoder: caching those would only fill the map.
 */
const envelopeBytes = new WeakMap<EventEnvelope, Uint8Array>();

export function encodedEnvelope(envelope: EventEnvelope): Uint8Array {
  let bytes = envelopeBytes.get(envelope);
  if (bytes === undefined) {
    bytes = EventEnvelope.encode(envelope).finish();
    envelopeBytes.set(envelope, bytes);
  }
  return bytes;
}

/** A length-delimited field's tag: field number and wire type 2. */
const lengthDelimited = (field: number): number => (field << 3) | 2;
const CONNECT_RESPONSE_FRAMES = 1;
const GATEWAY_FRAME_DISPATCH = 4;
const DISPATCH_HISTORY = 7;

/**
 * ConnectResponse's wire form, byte for byte a valid encoding of the message (fields may come in another
 * order, which protobuf allows): dispatch histories are written from the cached envelope bytes.
 */
export function serializeConnectResponse(response: ConnectResponse): Buffer {
  const writer = new BinaryWriter();
  for (const frame of response.frames) {
    writer.uint32(lengthDelimited(CONNECT_RESPONSE_FRAMES)).fork();
    if (frame.frame?.$case === "dispatch" && frame.frame.value.history.length > 0) {
      writeDispatchFrame(frame, frame.frame.value, writer);
    } else {
      GatewayFrame.encode(frame, writer);
    }
    writer.join();
  }
  return asBuffer(writer.finish());
}

function writeDispatchFrame(frame: GatewayFrame, dispatch: Dispatch, writer: BinaryWriter): void {
  GatewayFrame.encode({ ...frame, frame: undefined }, writer);
  writer.uint32(lengthDelimited(GATEWAY_FRAME_DISPATCH)).fork();
  Dispatch.encode({ ...dispatch, history: [] }, writer);
  for (const envelope of dispatch.history) writer.uint32(lengthDelimited(DISPATCH_HISTORY)).bytes(encodedEnvelope(envelope));
  writer.join();
}

/** A Buffer over the writer's bytes without copying them (the generated serializers copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The link service as the gateway serves it: the generated definition with the Connect serializer above. */
export const GatewayLinkService = {
  ...HandlerLinkServiceService,
  connect: { ...HandlerLinkServiceService.connect, responseSerialize: serializeConnectResponse },
} as const;
