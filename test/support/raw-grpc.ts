import http2 from "node:http2";

/** A gRPC message's 5-byte length prefix declaring `declared` bytes, then `body` (which may be shorter). */
export function framed(declared: number, body: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(declared, 1);
  return Buffer.concat([prefix, body]);
}

/** A bare gRPC request stream on `session`: the caller writes the body itself, as much of it as it likes. */
export function rawRequest(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}): http2.ClientHttp2Stream {
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
  stream.on("data", () => undefined);
  stream.on("error", () => undefined); // a refused or reset stream is an outcome the tests read from "close"
  return stream;
}

export interface RawAnswer {
  status: number;
  message: string;
  reason: string | undefined;
}

/** The status a raw stream ended with, from a trailers-only answer or from trailers. */
export function rawAnswer(stream: http2.ClientHttp2Stream): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const settle = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] === undefined) return;
      const reason = headers["recq-reason"];
      resolve({
        status: Number(headers["grpc-status"]),
        message: decodeURIComponent(String(headers["grpc-message"] ?? "")),
        reason: typeof reason === "string" ? reason : undefined,
      });
    };
    stream.on("response", settle);
    stream.on("trailers", settle);
  });
}

/** The RST_STREAM code a stream closed with (0, NO_ERROR, when it ended normally). */
export function rawClosed(stream: http2.ClientHttp2Stream): Promise<number | undefined> {
  return new Promise((resolve) => stream.on("close", () => resolve(stream.rstCode)));
}

/** `promise`, or a failure naming `what` if it has not settled after `ms`: a bound on a wait, not a timing. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
