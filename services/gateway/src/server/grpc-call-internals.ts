import type { ServerHttp2Stream } from "node:http2";
import type { ServerInterceptingCallInterface } from "@grpc/grpc-js";

// The one place the gateway reaches into grpc-js. grpc-js 1.14 has one receive limit per server and no way to
// reset a call's HTTP/2 stream; the gateway serves callers (4 MiB requests) and handler links (64 MiB batches) on
// one port, and must free a stalled caller's stream slot. So, for each call, it reads three fields of grpc-js's
// BaseServerInterceptingCall (build/src/server-interceptors.js) — the call a server's first interceptor is given:
//   stream                  the call's Http2Stream
//   decoder                 its StreamDecoder (build/src/stream-decoder.js), which reads each message's 5-byte
//                           prefix and throws once the declared length is over maxReadMessageLength, before it
//                           buffers a byte of the body; readMessageSize holds the declared length
//   maxReceiveMessageSize   the limit on a compressed message's decompressed size
// No public option does this (checked against grpc-js 1.14.7: ServerOptions has one
// grpc.max_receive_message_length; interceptors see a message only once it is whole).
// test/gateway/grpc-call-internals.contract.test.ts pins every field used here against the installed grpc-js.

interface StreamDecoderFields {
  maxReadMessageLength: number;
  readMessageSize: number;
  write(data: Buffer): Buffer[];
}

interface BaseCallFields {
  stream: ServerHttp2Stream;
  decoder: StreamDecoderFields;
  maxReceiveMessageSize: number;
}

/** What the gateway may do to one call's transport that grpc-js offers no public way to do. */
export interface CallTransport {
  readonly stream: ServerHttp2Stream;
  /**
   * Sets the largest message this call accepts, checked against each message's declared length before its body is
   * read. With `onTooLarge`, a message over it is handed to `onTooLarge(declaredBytes)` to answer, and nothing
   * of it is kept; without, grpc-js answers RESOURCE_EXHAUSTED itself.
   */
  limitMessages(maxBytes: number, onTooLarge?: (declaredBytes: number) => void): void;
}

/** The call's transport, or undefined when grpc-js no longer has the fields (the caller then falls back). */
export function callTransport(call: ServerInterceptingCallInterface): CallTransport | undefined {
  const fields = call as unknown as Partial<BaseCallFields>;
  const { stream, decoder } = fields;
  if (
    stream === undefined ||
    typeof stream.close !== "function" ||
    decoder === undefined ||
    typeof decoder.write !== "function" ||
    typeof decoder.maxReadMessageLength !== "number" ||
    typeof fields.maxReceiveMessageSize !== "number"
  ) {
    return undefined;
  }
  return {
    stream,
    limitMessages(maxBytes, onTooLarge) {
      fields.maxReceiveMessageSize = maxBytes;
      decoder.maxReadMessageLength = maxBytes;
      if (onTooLarge === undefined) return;
      const write = decoder.write;
      decoder.write = (data: Buffer): Buffer[] => {
        try {
          return write.call(decoder, data);
        } catch (error) {
          if (!(decoder.readMessageSize > maxBytes)) throw error;
          onTooLarge(decoder.readMessageSize);
          return [];
        }
      };
    },
  };
}
