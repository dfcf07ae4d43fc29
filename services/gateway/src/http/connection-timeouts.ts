import type http2 from "node:http2";
import type net from "node:net";

/**
 * The HTTP port's bounds on slow clients (docs/web.md, "Slow clients"). Node enforces its own `headersTimeout` and
 * `requestTimeout` only on an HTTP server that listens itself, and the port hands its connections over (the
 * cleartext listener), or serves HTTP/1.1 through the secure HTTP/2 server: these are enforced here instead.
 */
export interface ConnectionTimeouts {
  /** From a connection's accept to the bytes that say which protocol it speaks, or the end of its TLS handshake (RECQ_HTTP_PROTOCOL_TIMEOUT_MS). */
  protocolTimeoutMs: number;
  /** From the first byte of an HTTP/1.1 request to the end of its headers (RECQ_HTTP_HEADERS_TIMEOUT_MS). */
  headersTimeoutMs: number;
  /** How long an HTTP/1.1 connection may stay open with no request on it, between requests (RECQ_HTTP_IDLE_TIMEOUT_MS). */
  idleTimeoutMs: number;
  /** How long an HTTP/2 connection may stay open with no stream on it (RECQ_HTTP2_IDLE_TIMEOUT_MS). */
  http2IdleTimeoutMs: number;
}

/**
 * HTTP/1.1 keep-alive: 65 s, longer than the 60 s idle time of common load balancers (AWS ALB, GCP, nginx's
 * keepalive_timeout 75 s aside), so that the balancer, not the gateway, closes an idle pooled connection: a gateway
 * closing first races the balancer's next request on it, which the balancer answers 502 (Node's own 5 s default is
 * known for this). HTTP/2: 5 min, the gRPC port's RECQ_MAX_CONNECTION_IDLE_MS, since a client multiplexes all its
 * calls on one long-lived connection.
 */
export const DEFAULT_CONNECTION_TIMEOUTS: Readonly<ConnectionTimeouts> = Object.freeze({
  protocolTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 65_000,
  http2IdleTimeoutMs: 300_000,
});

/** What a client that sent too slowly gets before its connection closes (Node answers its own headersTimeout so). */
const REQUEST_TIMEOUT_ANSWER = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

type Http1State = "idle" | "headers" | "busy";

/**
 * The clock of one HTTP/1.1 connection: idle (no request: `idleTimeoutMs`, then it closes), receiving a request's
 * headers (from its first byte: `headersTimeoutMs`, then 408 and it closes), or busy with a request (its body and
 * its answer are bounded elsewhere: RECQ_MAX_REQUEST_ARRIVAL_MS, the call's deadline). A trickle of bytes does not
 * reset it: a client sending its headers a byte a second is closed as one sending nothing.
 */
class Http1Clock {
  private state: Http1State = "idle";
  private timer: NodeJS.Timeout | undefined;
  /** Requests whose answer has not finished: pipelined ones arrive before the first is answered. */
  private inFlight = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly timeouts: ConnectionTimeouts,
    receiving: boolean,
  ) {
    socket.on("data", this.onData);
    socket.once("close", () => this.clear());
    if (receiving) this.enter("headers");
    else this.enter("idle");
  }

  /** A request of the connection has its headers: no clock until it and every request pipelined behind it are answered. */
  requestArrived(response: { once(event: "finish" | "close", listener: () => void): unknown }): void {
    this.inFlight += 1;
    this.enter("busy");
    let answered = false;
    const done = () => {
      if (answered) return;
      answered = true;
      this.inFlight -= 1;
      if (this.inFlight === 0 && this.state === "busy" && !this.socket.destroyed) this.enter("idle");
    };
    response.once("finish", done);
    response.once("close", done);
  }

  private readonly onData = (): void => {
    if (this.state === "idle") this.enter("headers");
  };

  private enter(state: Http1State): void {
    this.clear();
    this.state = state;
    if (state === "busy") return;
    this.timer = setTimeout(state === "headers" ? this.headersExpired : this.idleExpired, state === "headers" ? this.timeouts.headersTimeoutMs : this.timeouts.idleTimeoutMs);
    this.timer.unref();
  }

  private readonly headersExpired = (): void => {
    if (this.socket.writable) this.socket.end(REQUEST_TIMEOUT_ANSWER);
    this.socket.destroySoon();
  };

  private readonly idleExpired = (): void => {
    this.socket.destroy();
  };

  private clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The clocks of the port's HTTP/1.1 connections, found again by the socket of each request. */
export class Http1Clocks {
  private readonly clocks = new WeakMap<net.Socket, Http1Clock>();

  constructor(private readonly timeouts: ConnectionTimeouts) {}

  /** A connection starts speaking HTTP/1.1; `receiving`: its first bytes have already come (the cleartext listener read them). */
  watch(socket: net.Socket, receiving: boolean): void {
    this.clocks.set(socket, new Http1Clock(socket, this.timeouts, receiving));
  }

  /** A request's headers arrived on `socket`. */
  requestArrived(socket: net.Socket, response: { once(event: "finish" | "close", listener: () => void): unknown }): void {
    this.clocks.get(socket)?.requestArrived(response);
  }
}

/**
 * An HTTP/2 session with no stream for `idleTimeoutMs` (RECQ_HTTP2_IDLE_TIMEOUT_MS) is closed (GOAWAY). A request's headers come whole in one
 * frame, so a client trickling bytes — or pings — without ever opening a stream is held to this too. (The session's
 * own `setTimeout` counts any frame as activity.)
 */
export function closeIdleSession(session: http2.ServerHttp2Session, idleTimeoutMs: number): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(() => session.close(), idleTimeoutMs);
    timer.unref();
  };
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    open += 1;
    clearTimeout(timer);
    stream.once("close", () => {
      open -= 1;
      if (open === 0 && !session.closed && !session.destroyed) arm();
    });
  });
  session.once("close", () => clearTimeout(timer));
  arm();
}
