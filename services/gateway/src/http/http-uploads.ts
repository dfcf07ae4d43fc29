import { fromBinary, fromJsonString, ScalarType, toBinary, toJsonString, type DescField, type DescMessage, type DescMethod, type FileRegistry } from "@bufbuild/protobuf";
import { status, type handleClientStreamingCall, type Metadata } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { ConnectRouteDeps } from "./connect-routes";
import { headerOf, sendError, sendJson, type HttpRequest, type HttpResponse } from "./http-answers";
import { metadataOf } from "./http-server-call";
import { HttpUploadCall } from "./http-upload-call";
import type { ServedMethod } from "./recording-server";

/** Uploads with a raw body: `POST` (or `PUT`) `/recq/v1/upload/<service>/<method>?message=<first message as JSON>`. */
export const UPLOAD_PREFIX = "/recq/v1/upload/";

export interface HttpUploadDeps extends Pick<ConnectRouteDeps, "served" | "registry" | "services"> {
  /** Bytes of one message of an upload (RECQ_MAX_UPLOAD_CHUNK_BYTES): the body is cut into messages this size or less. */
  maxUploadChunkBytes: number;
}

/**
 * One upload command over plain HTTP: the first message from the URL (`message`, JSON), the raw request body cut
 * into the later messages — each piece in the request type's one `bytes` field — and the upload run by the very
 * implementation a gRPC upload runs (the command pipeline's upload path: its limits, its relay under the handler's
 * grants, its cancellation). Answers the CommandAck as JSON, or the failure as the port's other routes do.
 */
export async function serveUpload(request: HttpRequest, response: HttpResponse, name: string, url: URL, deps: HttpUploadDeps): Promise<void> {
  let call: HttpUploadCall | undefined;
  try {
    const { method, served, content } = uploadMethod(name, deps);
    const first = firstMessage(method.input, url.searchParams.get("message"), deps.registry);
    const peer = `http:${request.socket.remoteAddress}:${request.socket.remotePort}`;
    const metadata = metadataOf(Object.entries(request.headers).flatMap(([key, value]) => (typeof value === "string" ? [[key, value] as [string, string]] : [])));
    call = new HttpUploadCall(first, request, metadata, peer, deadlineOf(request), `/${name}`, {
      fieldNumber: content.number,
      maxMessageBytes: deps.maxUploadChunkBytes,
    });
    const uploadCall = call;
    response.once("close", () => {
      if (!response.writableFinished) uploadCall.cancel();
    });
    const { answer, headers } = await run(served, uploadCall);
    const json = toJsonString(method.output, fromBinary(method.output, answer), { registry: deps.registry });
    sendJson(response, 200, json, headersOf(headers));
  } catch (thrown) {
    if (response.headersSent || response.destroyed) return;
    // A refusal before the body was read whole: the rest of it is not read, so the connection cannot carry another request.
    if ("httpVersionMajor" in request && request.httpVersionMajor === 1 && !request.complete) response.setHeader("connection", "close");
    sendError(response, thrown);
  } finally {
    call?.finish();
  }
}

/** The served client-streaming method at `name` and its request's content field; refused with why not otherwise. */
function uploadMethod(name: string, deps: HttpUploadDeps): { method: DescMethod; served: ServedMethod; content: DescField } {
  const slash = name.indexOf("/");
  const service = slash > 0 && deps.services.includes(name.slice(0, slash)) ? deps.registry.getService(name.slice(0, slash)) : undefined;
  const method = service?.methods.find((m) => m.name === name.slice(slash + 1));
  const served = deps.served(`/${name}`);
  const shown = name.slice(0, 200);
  if (method === undefined || served === undefined) throw new MeshError(status.NOT_FOUND, `no method ${shown} is served`, Reason.INVALID_REQUEST);
  if (method.methodKind !== "client_streaming") {
    throw new MeshError(status.UNIMPLEMENTED, `${shown} is not an upload (a client-streaming command): call it over Connect`, Reason.INVALID_REQUEST);
  }
  const content = contentFieldOf(method.input);
  if (content === undefined) {
    throw new MeshError(
      status.UNIMPLEMENTED,
      `${shown} cannot take a raw body: its request ${method.input.typeName} must have exactly one bytes field to carry the content`,
      Reason.INVALID_REQUEST,
    );
  }
  return { method, served, content };
}

/** The request type's one singular `bytes` field, which carries the body's pieces; undefined when it has none or several. */
export function contentFieldOf(input: DescMessage): DescField | undefined {
  const bytesFields = input.fields.filter((field) => field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES);
  return bytesFields.length === 1 ? bytesFields[0] : undefined;
}

function firstMessage(input: DescMessage, json: string | null, registry: FileRegistry): Buffer {
  if (json === null) {
    throw new MeshError(status.INVALID_ARGUMENT, `the upload's first message is missing: give it as JSON in the URL's "message" parameter`, Reason.INVALID_REQUEST);
  }
  try {
    return Buffer.from(toBinary(input, fromJsonString(input, json, { registry })));
  } catch (thrown) {
    throw new MeshError(status.INVALID_ARGUMENT, `message is not a ${input.typeName} in JSON: ${thrown instanceof Error ? thrown.message : String(thrown)}`, Reason.INVALID_REQUEST);
  }
}

/** Runs the served upload as a gRPC call runs it; resolves with the answer's bytes and the response headers. */
function run(served: ServedMethod, call: HttpUploadCall): Promise<{ answer: Buffer; headers: Metadata }> {
  return new Promise((resolve, reject) => {
    (served.implementation as handleClientStreamingCall<unknown, unknown>)(call as never, (error, value) => {
      if (error) reject(MeshError.from(error));
      else resolve({ answer: served.responseSerialize(value), headers: call.responseHeaders });
    });
  });
}

/** The caller's deadline: Connect's `connect-timeout-ms` header, as on the port's other routes; none: Infinity. */
function deadlineOf(request: HttpRequest): number {
  const timeout = headerOf(request, "connect-timeout-ms");
  if (timeout === undefined) return Infinity;
  if (!/^\d{1,10}$/.test(timeout)) throw new MeshError(status.INVALID_ARGUMENT, `connect-timeout-ms must be a number of milliseconds`, Reason.INVALID_REQUEST);
  return Date.now() + Number(timeout);
}

function headersOf(metadata: Metadata): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) if (typeof value === "string") headers[key] = value;
  return headers;
}
