import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type tls from "node:tls";
import type { Logger } from "@recq-mesh/protocol";
import type { AdmissionControl } from "../admission/admission-control";
import type { AdmissionKind } from "../admission/admission-interceptor";
import type { DescriptorCatalog } from "../descriptors/descriptor-catalog";
import { acceptAsync, getOutcome, OUTCOMES_PREFIX, prefersAsync } from "./async-commands";
import { cleartextListener } from "./cleartext-listener";
import { closeIdleSession, DEFAULT_CONNECTION_TIMEOUTS, Http1Clocks } from "./connection-timeouts";
import { connectHandler } from "./connect-handler";
import { applyCors } from "./cors";
import { headerOf, sendError, type HttpRequest, type HttpResponse } from "./http-answers";
import type { ServedMethod } from "./recording-server";
import { serveEvents, SSE_PREFIX } from "./server-sent-events";
import { serveUpload, UPLOAD_PREFIX } from "./http-uploads";
import { sendTodoPage } from "./todo-page";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { status } from "@grpc/grpc-js";
import type { HttpPortOptions } from "./http-port-options";

export { defaultHttpHeartbeatMs, type HttpPortOptions, type HttpTls } from "./http-port-options";

export interface HttpPortDeps {
  catalog: DescriptorCatalog;
  /** The services served (domain services and the caller services of recq.v1), by full name. */
  services: readonly string[];
  served: (path: string) => ServedMethod | undefined;
  admission: AdmissionControl;
  admissionKind: (path: string) => AdmissionKind;
  maxRequestBytes: number;
  /** Bytes of one message of an upload (RECQ_MAX_UPLOAD_CHUNK_BYTES): a raw upload body is cut into messages this size or less. */
  maxUploadChunkBytes: number;
  maxRequestArrivalMs: number;
  maxStreamsPerConnection: number;
  maxConnectionIdleMs: number;
  logger: Logger;
}

/** Content types of Connect unary requests: their body is the message, bounded by RECQ_MAX_REQUEST_BYTES as sent. */
const CONNECT_UNARY_BODY = /^application\/(json|proto)\b/;

/**
 * The gateway's HTTP port: the same services as its gRPC port, for browsers and HTTP clients — the Connect protocol
 * (JSON and binary, HTTP/1.1 and HTTP/2, GET for queries without side effects), gRPC-Web, Server-Sent Events of
 * streaming methods, uploads with a raw body (http-uploads.ts), and `Prefer: respond-async` for commands (202 + Location, polled at /recq/v1/outcomes/<id>).
 * Every call runs the implementation a gRPC call runs (recording-server.ts).
 */
export class HttpPort {
  private closing: Promise<void> | undefined;
  private onClosing: () => void = () => undefined;

  private constructor(
    private readonly listener: net.Server,
    private readonly http1Server: http.Server,
    private readonly sessions: Set<http2.ServerHttp2Session>,
    private readonly sockets: Set<net.Socket>,
    private readonly shutdown: AbortController,
    readonly port: number,
  ) {}

  static async start(options: HttpPortOptions, deps: HttpPortDeps): Promise<HttpPort> {
    const shutdown = new AbortController();
    const registry = deps.catalog.registry;
    const routeDeps = { registry, services: deps.services, served: deps.served, admission: deps.admission, admissionKind: deps.admissionKind };
    const connectRoute = connectHandler(
      routeDeps,
      // gRPC itself is the gateway's other port.
      { grpc: false, grpcWeb: true, connect: true, readMaxBytes: deps.maxRequestBytes, jsonOptions: { registry }, shutdownSignal: shutdown.signal },
      deps.logger,
    );
    const connect = (request: HttpRequest, response: HttpResponse): void => {
      if (!connectRoute(request, response)) response.writeHead(404).end();
    };
    const asyncDeps = { ...routeDeps, catalog: deps.catalog, maxRequestBytes: deps.maxRequestBytes };
    const sseDeps = { ...routeDeps, heartbeatMs: options.heartbeatMs, shutdown: shutdown.signal };
    // A raw upload body is cut into messages no larger than a gRPC upload's may be: both limits bind each message.
    const uploadDeps = { ...routeDeps, maxUploadChunkBytes: Math.min(deps.maxUploadChunkBytes, deps.maxRequestBytes) };
    const timeouts = options.timeouts ?? DEFAULT_CONNECTION_TIMEOUTS;
    const clocks = new Http1Clocks(timeouts);
    let closing = false;
    const handle = (request: HttpRequest, response: HttpResponse): void => {
      if ("httpVersionMajor" in request && request.httpVersionMajor === 1) {
        clocks.requestArrived(request.socket, response);
        // A closing port answers what is in flight and lets each HTTP/1.1 connection go after its response.
        if (closing) response.setHeader("connection", "close");
      }
      if (applyCors(request, response, options.allowedOrigins)) return;
      const url = new URL(request.url ?? "/", "http://gateway");
      const path = url.pathname;
      if (options.page && request.method === "GET" && path === "/") {
        sendTodoPage(response);
        return;
      }
      if (request.method === "GET" && path.startsWith(SSE_PREFIX)) {
        void serveEvents(request, response, decodeURIComponent(path.slice(SSE_PREFIX.length)), url, sseDeps);
        return;
      }
      if (request.method === "GET" && path.startsWith(OUTCOMES_PREFIX)) {
        void getOutcome(request, response, decodeURIComponent(path.slice(OUTCOMES_PREFIX.length)), asyncDeps);
        return;
      }
      if ((request.method === "POST" || request.method === "PUT") && path.startsWith(UPLOAD_PREFIX)) {
        // An upload's body arrives at its handler's pace: bound by its deadline (or RECQ_MAX_CALL_MS), as on gRPC.
        void serveUpload(request, response, decodeURIComponent(path.slice(UPLOAD_PREFIX.length)), url, uploadDeps);
        return;
      }
      limitArrival(request, response, deps.maxRequestArrivalMs);
      if (request.method === "POST" && tooLarge(request, deps.maxRequestBytes)) {
        const declared = headerOf(request, "content-length");
        sendError(response, new MeshError(status.RESOURCE_EXHAUSTED, `the request is ${declared} bytes; the gateway accepts at most ${deps.maxRequestBytes}`, Reason.REQUEST_TOO_LARGE));
        return;
      }
      if (request.method === "POST" && prefersAsync(request)) {
        void acceptAsync(request, response, path, asyncDeps).then((handled) => {
          if (!handled) connect(request, response);
        });
        return;
      }
      connect(request, response);
    };
    // No requestTimeout nor headersTimeout: Node enforces them only on a server that listens itself, and this one
    // takes its connections from the cleartext listener (or serves HTTP/1.1 through the secure HTTP/2 server).
    // limitArrival bounds a request's body instead, uploads exempt; the clocks (connection-timeouts.ts) its headers
    // and the idle time between requests, which keepAliveTimeout also announces.
    const http1Server = http.createServer({ requestTimeout: 0, keepAliveTimeout: timeouts.idleTimeoutMs }, handle);
    const settings = { maxConcurrentStreams: deps.maxStreamsPerConnection };
    const sockets = new Set<net.Socket>();
    const track = (socket: net.Socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    };
    let http2Server: http2.Http2Server | http2.Http2SecureServer;
    let listener: net.Server;
    if (options.tls === undefined) {
      http2Server = http2.createServer({ settings }, handle);
      listener = cleartextListener(
        { http1: http1Server, http2: http2Server },
        { onConnection: track, onHttp1: (socket) => clocks.watch(socket, true), protocolTimeoutMs: timeouts.protocolTimeoutMs },
      );
    } else {
      // Behind TLS, ALPN picks HTTP/2 or HTTP/1.1 for each connection: one server serves both.
      // The handshake decides the protocol (ALPN): it is held to the protocol timeout.
      const secure = http2.createSecureServer({ ...options.tls.serverOptions(), allowHTTP1: true, settings, handshakeTimeout: timeouts.protocolTimeoutMs }, handle);
      const stopWatching = options.tls.onChange((options) => secure.setSecureContext(options));
      secure.on("connection", track);
      secure.on("secureConnection", (socket: tls.TLSSocket) => {
        if (socket.alpnProtocol !== "h2") clocks.watch(socket, false);
      });
      secure.once("close", stopWatching);
      http2Server = secure;
      listener = secure;
    }
    http2Server.setTimeout(deps.maxConnectionIdleMs);
    const sessions = new Set<http2.ServerHttp2Session>();
    http2Server.on("session", (session) => {
      closeIdleSession(session, timeouts.http2IdleTimeoutMs);
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    const port = await listen(listener, options.address);
    deps.logger.info("gateway HTTP port listening", { address: options.address, port, transport: options.tls === undefined ? "plaintext" : "tls" });
    const httpPort = new HttpPort(listener, http1Server, sessions, sockets, shutdown, port);
    httpPort.onClosing = () => (closing = true);
    return httpPort;
  }

  /** Ends every stream (Connect streams and Server-Sent Events): the gateway is shutting down. */
  endStreams(): void {
    this.shutdown.abort(new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN));
  }

  /** Takes no more connections, lets calls in flight finish within `graceMs`, then ends the streams and closes every connection. */
  close(graceMs: number): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.onClosing();
      const force = setTimeout(() => {
        this.endStreams();
        for (const socket of this.sockets) socket.destroy();
      }, graceMs);
      force.unref();
      // Resolves once every connection has closed: idle ones now, busy ones once their calls are answered.
      this.listener.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.http1Server.closeIdleConnections();
      for (const session of this.sessions) session.close();
    });
    return this.closing;
  }
}

/**
 * RECQ_MAX_REQUEST_ARRIVAL_MS on the HTTP port, what the gRPC port's arrival clock is: a request whose body has not
 * arrived whole that long after its headers is answered `deadline_exceeded`; then an HTTP/1.1 connection is closed
 * (its unread body would be taken for the next request), an HTTP/2 stream reset (RST_STREAM NO_ERROR: the answer is
 * complete, the rest of the request is not wanted), the connection's other streams untouched. Uploads are exempt
 * (their body comes at the handler's pace), as the gRPC port exempts request streams.
 */
function limitArrival(request: HttpRequest, response: HttpResponse, maxMs: number): void {
  if (hasArrived(request)) return;
  const timer = setTimeout(() => {
    if (hasArrived(request)) return;
    const http1 = isHttp1(request);
    if (!response.headersSent) {
      if (http1) response.setHeader("connection", "close");
      sendError(response, new MeshError(status.DEADLINE_EXCEEDED, `the request had not fully arrived ${maxMs} ms after its headers (the gateway's limit)`, Reason.DEADLINE_EXCEEDED));
    }
    if (!http1) {
      // At once, not on 'finish': an HTTP/2 response finishes only when both sides of its stream have, and this
      // client's side never does. Node sends the RST_STREAM after the answer's pending writes.
      (request as http2.Http2ServerRequest).stream.close(http2.constants.NGHTTP2_NO_ERROR);
      return;
    }
    response.once("finish", () => request.socket.destroy());
    if (response.writableFinished) request.socket.destroy();
  }, maxMs);
  timer.unref();
  const stop = () => clearTimeout(timer);
  request.once("end", stop);
  request.once("close", stop);
}

function isHttp1(request: HttpRequest): request is http.IncomingMessage {
  return "httpVersionMajor" in request && request.httpVersionMajor === 1;
}

/**
 * The request's body has come whole. On HTTP/2 the stream's remote side has closed (END_STREAM), whether or not the
 * body has been read yet: a GET, whose HEADERS end the stream, is never read at all.
 */
function hasArrived(request: HttpRequest): boolean {
  if (request.complete) return true;
  return !isHttp1(request) && (request as http2.Http2ServerRequest).stream.state.remoteClose === 1;
}

function tooLarge(request: HttpRequest, maxBytes: number): boolean {
  if (!CONNECT_UNARY_BODY.test(headerOf(request, "content-type") ?? "")) return false;
  const declared = Number(headerOf(request, "content-length"));
  return Number.isFinite(declared) && declared > maxBytes;
}

function listen(server: net.Server, address: string): Promise<number> {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
