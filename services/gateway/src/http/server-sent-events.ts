import { fromBinary, fromJsonString, toBinary, toJsonString, type DescMessage, type DescMethod, type FileRegistry } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { Code } from "@connectrpc/connect";
import { admitted, type ConnectRouteDeps } from "./connect-routes";
import { headerOf, sendError, type HttpRequest, type HttpResponse } from "./http-answers";
import { metadataOf, type HttpServerCall } from "./http-server-call";
import { endingError, openStream } from "./served-call";

/** Server-Sent Events of a streaming method: `GET /recq/v1/sse/<service>/<method>?message=<request as JSON>`. */
export const SSE_PREFIX = "/recq/v1/sse/";
const SUBSCRIBE_EVENTS = "recq.v1.EventService/SubscribeEvents";
/** Until the first message or comment, the response waits this long: a refusal can still be an HTTP status. */
const HEADERS_WITHIN_MS = 50;

export interface SseDeps extends Pick<ConnectRouteDeps, "served" | "admission" | "admissionKind" | "registry" | "services"> {
  /** A comment line this often keeps proxies from closing an idle stream (RECQ_HTTP_HEARTBEAT_MS). */
  heartbeatMs: number;
  /** Aborted when the port closes: every stream ends. */
  shutdown: AbortSignal;
}

/**
 * One server-streaming method as an EventSource stream: each answer a `data:` line of its JSON, with an `id:`;
 * a failure an `event: error` with `{"code", "message", "reason"}`, the end of the stream an `event: end`.
 * `id` is the event's position for event subscriptions (recq.v1.EventService/SubscribeEvents), so a
 * reconnect with `Last-Event-ID` resumes after it — no gap, no repeat; for other streams it counts the
 * answers, and a reconnect opens the stream anew (a streaming query sends its current view again).
 */
export async function serveEvents(request: HttpRequest, response: HttpResponse, name: string, url: URL, deps: SseDeps): Promise<void> {
  let release: (() => void) | undefined;
  try {
    const method = streamingMethod(name, deps);
    const served = deps.served(`/${name}`)!;
    const lastEventId = headerOf(request, "last-event-id") ?? url.searchParams.get("lastEventId") ?? undefined;
    const payload = requestOf(method, url.searchParams.get("message") ?? "{}", name === SUBSCRIBE_EVENTS ? lastEventId : undefined, deps.registry);
    const peer = `http:${request.socket.remoteAddress}:${request.socket.remotePort}`;
    release = admitted(deps, `/${name}`, peer);
    const stream = new EventStreamWriter(response, deps.heartbeatMs);
    const controller = new AbortController();
    const stop = () => controller.abort();
    response.once("close", stop);
    deps.shutdown.addEventListener("abort", stop);
    let count = 0;
    const call: HttpServerCall = openStream(served, { request: payload, metadata: metadataOf(entries(request, url)), peer, deadlineMs: Infinity, signal: controller.signal }, (answer) => {
      const message = fromBinary(method.output, answer);
      count += 1;
      const id = name === SUBSCRIBE_EVENTS ? positionOf(message) : String(count);
      return stream.send(id, toJsonString(method.output, message, { registry: deps.registry }));
    });
    const ending = await call.ended;
    deps.shutdown.removeEventListener("abort", stop);
    const error = controller.signal.aborted && !deps.shutdown.aborted ? undefined : endingError(ending);
    if (deps.shutdown.aborted && error === undefined) stream.end(new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN));
    else stream.end(error);
  } catch (thrown) {
    if (!response.headersSent) sendError(response, thrown);
    else response.end();
  } finally {
    release?.();
  }
}

function streamingMethod(name: string, deps: SseDeps): DescMethod {
  const slash = name.indexOf("/");
  const service = slash > 0 && deps.services.includes(name.slice(0, slash)) ? deps.registry.getService(name.slice(0, slash)) : undefined;
  const method = service?.methods.find((m) => m.name === name.slice(slash + 1));
  if (method === undefined || method.methodKind !== "server_streaming" || deps.served(`/${name}`) === undefined) {
    throw new MeshError(status.NOT_FOUND, `no streaming method ${name.slice(0, 200)} is served as Server-Sent Events`, Reason.INVALID_REQUEST);
  }
  return method;
}

/** The request's bytes from its JSON; an event subscription resumed with `Last-Event-ID` starts after that position. */
function requestOf(method: DescMethod, json: string, resumeAfter: string | undefined, registry: FileRegistry): Buffer {
  const message = parseJson(method.input, json, registry);
  if (resumeAfter !== undefined && resumeAfter !== "") {
    if (!/^\d{1,19}$/.test(resumeAfter)) {
      throw new MeshError(status.INVALID_ARGUMENT, `Last-Event-ID must be an event position, not "${resumeAfter.slice(0, 40)}"`, Reason.INVALID_REQUEST);
    }
    (message as unknown as { afterPosition: bigint }).afterPosition = BigInt(resumeAfter);
  }
  return Buffer.from(toBinary(method.input, message));
}

function parseJson(input: DescMessage, json: string, registry: FileRegistry) {
  try {
    return fromJsonString(input, json, { registry });
  } catch (thrown) {
    throw new MeshError(status.INVALID_ARGUMENT, `message is not a ${input.typeName} in JSON: ${thrown instanceof Error ? thrown.message : String(thrown)}`, Reason.INVALID_REQUEST);
  }
}

/** The position an event subscription's message reports: an event's, or a progress message's. */
function positionOf(message: unknown): string {
  const value = (message as { message: { case?: string; value?: { position?: bigint } } }).message;
  return String(value.value?.position ?? "");
}

/**
 * The request's headers as metadata entries, and a `recq-consistency-token` URL parameter: `EventSource` cannot
 * send headers, and a page that watches what it has just changed needs the token (a header of the same name wins).
 */
function entries(request: HttpRequest, url: URL): [string, string][] {
  const headers = Object.entries(request.headers).flatMap(([key, value]) => (typeof value === "string" ? [[key, value] as [string, string]] : []));
  const token = url.searchParams.get(CONSISTENCY_TOKEN);
  return token !== null && request.headers[CONSISTENCY_TOKEN] === undefined ? [...headers, [CONSISTENCY_TOKEN, token]] : headers;
}

const CONSISTENCY_TOKEN = "recq-consistency-token";

/**
 * The text/event-stream response: headers once the first message (or heartbeat) is written, or after a short wait;
 * each write waits for the connection to take it (the stream's unread limits then apply as on gRPC).
 */
class EventStreamWriter {
  private readonly heartbeat: NodeJS.Timeout;
  private readonly opener: NodeJS.Timeout;

  constructor(
    private readonly response: HttpResponse,
    heartbeatMs: number,
  ) {
    this.opener = setTimeout(() => this.open(), HEADERS_WITHIN_MS);
    this.heartbeat = setInterval(() => void this.write(": heartbeat\n\n"), heartbeatMs);
    this.opener.unref();
    this.heartbeat.unref();
  }

  send(id: string, json: string): Promise<void> {
    return this.write(`id: ${id}\ndata: ${json}\n\n`);
  }

  end(error: MeshError | undefined): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.opener);
    if (this.response.writableEnded || this.response.destroyed) return;
    if (error !== undefined && !this.response.headersSent) return sendError(this.response, error);
    this.open();
    const body = error === undefined ? "{}" : JSON.stringify({ code: codeToString(error.code as number as Code), message: error.message, reason: error.reason });
    this.response.end(`event: ${error === undefined ? "end" : "error"}\ndata: ${body}\n\n`);
  }

  private open(): void {
    if (this.response.headersSent || this.response.destroyed) return;
    this.response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" });
    if ("flushHeaders" in this.response) this.response.flushHeaders();
  }

  private write(text: string): Promise<void> {
    if (this.response.writableEnded || this.response.destroyed) return Promise.resolve();
    this.open();
    if ((this.response as { write(chunk: string): boolean }).write(text)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.response.off("drain", done);
        this.response.off("close", done);
        resolve();
      };
      this.response.once("drain", done);
      this.response.once("close", done);
    });
  }
}
