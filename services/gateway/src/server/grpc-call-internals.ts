import type { ServerHttp2Stream } from "node:http2";
import type { ServerInterceptingCallInterface } from "@grpc/grpc-js";

// The one place the gateway reaches into grpc-js. grpc-js 1.14 has one receive limit per server and no way to
// reset a call's HTTP/2 stream; the gateway serves callers (4 MiB requests) and handler links (64 MiB batches) on
// one port, and must free a stalled caller's stream slot. So, for each call, it reads three fields of grpc-js's
// BaseServerInterceptingCall (build/src/server-interceptors.js) — the call a server's first interceptor is given:
//   stream                  the call's Http2Stream
//   decoder                 its StreamDecoder (build/src/stream-decoder.js), which reads each message's 5-byte
//                           prefix and throws once the declared length is over maxReadMessageLength, before it
//                           buffers a byte of the body; readMessageSize holds the declared length; its write
//                           is its prototype's, which the gateway replaces on a caller's call by a guard
//   maxReceiveMessageSize   the limit on a compressed message's decompressed size
// No public option does this (checked against grpc-js 1.14.7: ServerOptions has one
// grpc.max_receive_message_length; interceptors see a message only once it is whole).
// test/gateway/grpc-call-internals.contract.test.ts pins every field used here against the installed grpc-js.

interface StreamDecoderFields {
  maxReadMessageLength: number;
  readMessageSize: number;
  write(data: Buffer): Buffer[];
}

/** Told, instead of grpc-js's own answer, of a message over the call's limit; its body is then never kept. */
export interface TooLargeHandler {
  messageTooLarge(declaredBytes: number): void;
}

/** A decoder whose `write` is `guardedWrite`: the handler it reports to. */
interface GuardedDecoder extends StreamDecoderFields {
  tooLarge: TooLargeHandler;
}

/** What the gateway may use of one call's transport that grpc-js offers no public way to reach: the call's own fields. */
export interface CallTransport {
  readonly stream: ServerHttp2Stream;
  readonly decoder: StreamDecoderFields;
  maxReceiveMessageSize: number;
}

/**
 * The call's transport (the call itself, seen through the fields it has), or undefined when grpc-js no longer has
 * the fields (the caller then falls back). Nothing is allocated: the gateway asks this of every call.
 */
export function callTransport(call: ServerInterceptingCallInterface): CallTransport | undefined {
  const fields = call as unknown as Partial<CallTransport>;
  const { stream, decoder } = fields;
  if (
    stream === undefined ||
    typeof stream.close !== "function" ||
    decoder === undefined ||
    typeof decoder.write !== "function" ||
    typeof Object.getPrototypeOf(decoder)?.write !== "function" ||
    typeof decoder.maxReadMessageLength !== "number" ||
    typeof fields.maxReceiveMessageSize !== "number"
  ) {
    return undefined;
  }
  return fields as CallTransport;
}

/**
 * Sets the largest message a call accepts, checked against each message's declared length before its body is
 * read. With `onTooLarge`, a message over it is handed to `onTooLarge` to answer, and nothing of it is kept;
 * without, grpc-js answers RESOURCE_EXHAUSTED itself.
 */
export function limitMessages(transport: CallTransport, maxBytes: number, onTooLarge?: TooLargeHandler): void {
  transport.maxReceiveMessageSize = maxBytes;
  const decoder = transport.decoder;
  decoder.maxReadMessageLength = maxBytes;
  if (onTooLarge === undefined) return;
  // One function for every call's decoder, not a closure per call: the handler rides on the decoder.
  (decoder as GuardedDecoder).tooLarge = onTooLarge;
  decoder.write = guardedWrite;
}

/** StreamDecoder's own write (from its prototype), turning its throw at a declared length over the limit into the handler's call. */
function guardedWrite(this: GuardedDecoder, data: Buffer): Buffer[] {
  try {
    return (Object.getPrototypeOf(this) as StreamDecoderFields).write.call(this, data);
  } catch (error) {
    if (!(this.readMessageSize > this.maxReadMessageLength)) throw error;
    this.tooLarge.messageTooLarge(this.readMessageSize);
    return [];
  }
}
