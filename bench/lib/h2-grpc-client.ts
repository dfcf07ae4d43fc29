import http2 from "node:http2";

/**
 * A bare HTTP/2 gRPC unary client for load generation: a fraction of grpc-js's client cost per call, so that
 * the load generator is not what a two-core benchmark measures. It frames requests and reads grpc-status.
 */
export class H2GrpcClient {
  private readonly sessions: http2.ClientHttp2Session[];
  private next = 0;

  constructor(address: string, sessions: number) {
    this.sessions = Array.from({ length: sessions }, () => http2.connect(`http://${address}`));
    for (const session of this.sessions) session.on("error", () => undefined);
  }

  /** Resolves with the response message bytes; rejects with the gRPC status when it is not OK. */
  call(path: string, message: Uint8Array, headers: Record<string, string> = {}): Promise<Buffer> {
    const session = this.sessions[this.next++ % this.sessions.length]!;
    return new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...headers,
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let details = "";
      const readStatus = (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) {
          status = String(h["grpc-status"]);
          details = decodeURIComponent(String(h["grpc-message"] ?? ""));
        }
      };
      stream.on("response", readStatus);
      stream.on("trailers", readStatus);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("close", () => {
        if (status === "0") resolve(Buffer.concat(chunks).subarray(5));
        else reject(new Error(`grpc-status ${status ?? "missing"}: ${details}`));
      });
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      stream.end(frame);
    });
  }

  close(): void {
    for (const session of this.sessions) session.close();
  }
}
