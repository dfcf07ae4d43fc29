import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import { MeshError, Reason, REASON_METADATA_KEY, RETRY_AFTER_METADATA_KEY } from "@recq-mesh/protocol";

export type HttpRequest = IncomingMessage | Http2ServerRequest;
export type HttpResponse = ServerResponse | Http2ServerResponse;

/** The first value of a request header. */
export function headerOf(request: HttpRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Answers JSON with a status: the gateway's own HTTP routes (outcomes, 202 acceptance). */
export function sendJson(response: HttpResponse, httpStatus: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(httpStatus, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  response.end(body);
}

/**
 * A failure on the gateway's own HTTP routes, answered as Connect answers a unary error: the HTTP status of the
 * code, a JSON body `{"code": "unauthenticated", "message": …}`, and the reason in the `recq-reason` header.
 */
export function sendError(response: HttpResponse, thrown: unknown): void {
  const error = MeshError.from(thrown);
  const code = error.code as number as Code;
  const headers: Record<string, string> = { [REASON_METADATA_KEY]: error.reason };
  if (error.retryAfterMs !== undefined) {
    headers[RETRY_AFTER_METADATA_KEY] = String(error.retryAfterMs);
    headers["retry-after"] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  }
  sendJson(response, codeToHttpStatus(code), JSON.stringify({ code: codeToString(code), message: error.message }), headers);
}

/** Reads a request's body, refusing it past `maxBytes` (RECQ_MAX_REQUEST_BYTES) without reading the rest. */
export function readBody(request: HttpRequest, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const tooLarge = (size: number) =>
      reject(new MeshError(Code.ResourceExhausted as number, `the request is ${size} bytes or more; the gateway accepts at most ${maxBytes}`, Reason.REQUEST_TOO_LARGE));
    const declared = Number(headerOf(request, "content-length"));
    if (Number.isFinite(declared) && declared > maxBytes) return tooLarge(declared);
    request.on("data", (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxBytes) {
        request.removeAllListeners("data");
        request.pause();
        tooLarge(length);
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}
