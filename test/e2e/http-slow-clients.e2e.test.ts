import assert from "node:assert/strict";
import http2 from "node:http2";
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { silentLogger } from "@recq-mesh/kit";
import { CertificateFiles } from "@recq-mesh/gateway/internal/security/certificate-files";
import { startGateway, tempDir, type RunningGateway } from "../support/mesh-harness";
import { issueCertificate, makeCa } from "../support/test-certificates";

/**
 * The port's bounds, short so that the tests are; each test waits well past them, never for a tight figure. HTTP/2's
 * idle time is its own, longer than HTTP/1.1's.
 */
const TIMEOUTS = { protocolTimeoutMs: 600, headersTimeoutMs: 600, idleTimeoutMs: 600, http2IdleTimeoutMs: 1_500 };
/** Longer than any bound plus a loaded machine's delay: a connection still open then is held "for ever". */
const HELD = 5_000;
/** RECQ_MAX_REQUEST_ARRIVAL_MS of the port's gateway, short too. */
const ARRIVAL_MS = 1_000;

/** A raw connection to the HTTP port: what it received, and whether (and when) the gateway closed it. */
function rawConnection(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  const received: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return {
    socket,
    connected,
    text: () => Buffer.concat(received).toString("latin1"),
    bytes: () => Buffer.concat(received),
    /** Resolves true when the gateway closed the connection within `ms`, false if it is still open then. */
    closedWithin: (ms: number) => Promise.race([closed.then(() => true), sleep(ms, undefined, { ref: false }).then(() => false)]),
  };
}

/** Writes `text` a byte every `everyMs` until the socket closes or the text ends. */
async function trickle(socket: net.Socket, text: string, everyMs: number): Promise<void> {
  for (const byte of text) {
    if (socket.destroyed || !socket.writable) return;
    socket.write(byte);
    await sleep(everyMs);
  }
}

const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`;

describe("the HTTP port and slow clients", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let port: number;

  beforeAll(async () => {
    data = await tempDir("http-slow-clients");
    mesh = await startGateway(data.dir, {
      http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 10_000, timeouts: TIMEOUTS },
      limits: { maxRequestArrivalMs: ARRIVAL_MS },
    });
    port = mesh.gateway.http!.port;
  });

  afterAll(async () => {
    await mesh.gateway.stop();
    await data.remove();
  });

  it("answers deadline_exceeded and resets an HTTP/2 stream whose body has not arrived within RECQ_MAX_REQUEST_ARRIVAL_MS; the connection serves on", async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => undefined);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/todo.v1.TodoListQueryService/GetTodoList", "content-type": "application/json" }, { endStream: false });
      stream.on("error", () => undefined);
      const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
      const body: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => body.push(chunk));
      const closed = new Promise<true>((resolve) => stream.once("close", () => resolve(true)));
      assert.equal(await Promise.race([closed, sleep(HELD, undefined, { ref: false }).then(() => false)]), true, "the stream was ended");
      const answered = await headers;
      assert.equal(answered[":status"], 504);
      assert.equal(answered["recq-reason"], "DEADLINE_EXCEEDED");
      assert.match(Buffer.concat(body).toString(), new RegExp(`"code":"deadline_exceeded".*had not fully arrived ${ARRIVAL_MS} ms after its headers`));
      assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);

      // The session stays: another stream on it is served.
      assert.equal(session.closed || session.destroyed, false);
      const next = session.request({ ":method": "GET", ":path": "/nothing" });
      next.on("error", () => undefined);
      const nextStatus = await new Promise<unknown>((resolve) => next.once("response", (h) => resolve(h[":status"])));
      assert.equal(nextStatus, 404);
      next.resume();
    } finally {
      session.destroy();
    }
  });

  it("answers 408 and closes a connection whose request headers trickle in past the headers timeout, while others are served", async () => {
    const slow = Array.from({ length: 10 }, () => rawConnection(port));
    const trickling = slow.map((connection) => connection.connected.then(() => trickle(connection.socket, `GET /nothing HTTP/1.1\r\nHost: gateway\r\nX-Slow: ${"a".repeat(200)}`, 100)));
    // Meanwhile an ordinary caller is answered at once.
    await sleep(200);
    const answered = await fetch(`http://127.0.0.1:${port}/nothing`);
    assert.equal(answered.status, 404);
    const closed = await Promise.all(slow.map((connection) => connection.closedWithin(HELD)));
    assert.deepEqual(closed, slow.map(() => true), "every trickling connection is closed");
    for (const connection of slow) assert.match(connection.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    await Promise.all(trickling);
  });

  it("survives a connection its client resets before sending a byte, and serves the next", async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const connection = rawConnection(port);
      await connection.connected;
      // RST instead of FIN: the gateway's side of the socket gets ECONNRESET while the protocol is still undecided.
      connection.socket.resetAndDestroy();
      await connection.closedWithin(HELD);
    }
    await sleep(100);
    assert.equal((await fetch(`http://127.0.0.1:${port}/nothing`)).status, 404);
  });

  it("serves a request whose headers come in pieces within the headers timeout", async () => {
    const connection = rawConnection(port);
    await connection.connected;
    for (const piece of ["GET /nothing HTT", "P/1.1\r\nHost: gat", "eway\r\n", "\r\n"]) {
      connection.socket.write(piece);
      await sleep(TIMEOUTS.headersTimeoutMs / 6);
    }
    assert.equal(await connection.closedWithin(HELD), true, "closed once idle");
    assert.match(connection.text(), /^HTTP\/1\.1 404 /);
  });

  it("closes an HTTP/1.1 connection idle past the idle timeout, and serves the next request sent within it", async () => {
    const connection = rawConnection(port);
    await connection.connected;
    connection.socket.write(request("/first"));
    await sleep(TIMEOUTS.idleTimeoutMs / 3);
    connection.socket.write(request("/second"));
    const started = Date.now();
    const closedAt = await Promise.race([new Promise<number>((resolve) => connection.socket.once("close", () => resolve(Date.now()))), sleep(HELD, undefined, { ref: false }).then(() => 0)]);
    assert.notEqual(closedAt, 0, "the idle connection was closed");
    assert.ok(closedAt - started >= TIMEOUTS.idleTimeoutMs / 2, "not before it was idle");
    assert.equal(connection.text().match(/HTTP\/1\.1 404 /g)?.length, 2, "both requests answered on the one connection");
  });

  it("keeps an HTTP/1.1 connection past the idle timeout while a pipelined request is still answered; Server-Sent Events on HTTP/1.1 and HTTP/2 outlive it", async () => {
    // A stream that stays open: the outcome of a command never sent, watched.
    const events = `/recq/v1/sse/recq.v1.CommandOutcomeService/WatchOutcome?message=${encodeURIComponent('{"commandId":"never-sent"}')}`;
    const pipelined = rawConnection(port);
    const single = rawConnection(port);
    await Promise.all([pipelined.connected, single.connected]);
    // The first answer (404) finishes at once, the second (the stream) goes on: the connection is not idle.
    pipelined.socket.write(request("/nothing") + request(events));
    single.socket.write(request(events));
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => undefined);
    const h2Stream = session.request({ ":path": events });
    h2Stream.on("error", () => undefined);
    const h2Status = new Promise<unknown>((resolve) => h2Stream.once("response", (headers) => resolve(headers[":status"])));
    const h2Closed = new Promise<true>((resolve) => session.once("close", () => resolve(true)));
    try {
      const outlived = 3 * TIMEOUTS.idleTimeoutMs;
      const [pipelinedClosed, singleClosed, sessionClosed] = await Promise.all([
        pipelined.closedWithin(outlived),
        single.closedWithin(outlived),
        Promise.race([h2Closed, sleep(outlived, undefined, { ref: false }).then(() => false)]),
      ]);
      assert.deepEqual({ pipelinedClosed, singleClosed, sessionClosed }, { pipelinedClosed: false, singleClosed: false, sessionClosed: false });
      assert.deepEqual(pipelined.text().match(/HTTP\/1\.1 \d+/g), ["HTTP/1.1 404", "HTTP/1.1 200"]);
      assert.match(single.text(), /^HTTP\/1\.1 200 .*text\/event-stream/s);
      assert.equal(await h2Status, 200);
    } finally {
      pipelined.socket.destroy();
      single.socket.destroy();
      session.destroy();
    }
  });

  it("closes a connection that has not said which protocol it speaks within the protocol timeout: nothing sent, or a part of a preface", async () => {
    const silent = rawConnection(port);
    const partial = rawConnection(port);
    await Promise.all([silent.connected, partial.connected]);
    partial.socket.write("PR");
    assert.deepEqual(await Promise.all([silent.closedWithin(HELD), partial.closedWithin(HELD)]), [true, true]);
    assert.equal(silent.text(), "");
    assert.equal(partial.text(), "");
  });

  it("takes an HTTP/2 preface however its first bytes are split", async () => {
    const connection = rawConnection(port);
    await connection.connected;
    connection.socket.write("P");
    await sleep(50);
    connection.socket.write("RI");
    await sleep(50);
    connection.socket.write(" * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    // The server's first frame: its SETTINGS (type 4), not an HTTP/1.1 400.
    const deadline = Date.now() + HELD;
    while (connection.bytes().length < 9 && Date.now() < deadline) await sleep(20);
    assert.equal(connection.bytes()[3], 0x4, `answered ${JSON.stringify(connection.text().slice(0, 40))}`);
    connection.socket.destroy();
  });

  it("closes an HTTP/2 connection with no stream past its own idle timeout (RECQ_HTTP2_IDLE_TIMEOUT_MS, not HTTP/1.1's), pings or not", async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => undefined);
    const closed = new Promise<true>((resolve) => session.once("close", () => resolve(true)));
    const pinging = setInterval(() => {
      if (!session.closed && !session.destroyed) session.ping(() => undefined);
    }, 100);
    const closedWithin = (ms: number) => Promise.race([closed, sleep(ms, undefined, { ref: false }).then(() => false)]);
    try {
      // Past HTTP/1.1's idle time, short of HTTP/2's: still open (a bound is never early, so this cannot flake).
      assert.equal(await closedWithin(TIMEOUTS.idleTimeoutMs + 400), false, "open past RECQ_HTTP_IDLE_TIMEOUT_MS");
      assert.equal(await closedWithin(HELD), true, "closed past RECQ_HTTP2_IDLE_TIMEOUT_MS");
    } finally {
      clearInterval(pinging);
      session.destroy();
    }
  });
});

describe("the HTTP port behind TLS and slow clients", () => {
  it("closes a connection that does not finish its handshake within the protocol timeout, and answers 408 to HTTP/1.1 headers trickling past the headers timeout", async () => {
    const data = await tempDir("http-slow-tls");
    const ca = makeCa(data.dir, "ca");
    const server = issueCertificate(ca, "gateway", "gateway", ["localhost"]);
    const files = await CertificateFiles.open({ certificateFile: server.certificateFile, keyFile: server.keyFile, clientCaFile: undefined, clientAuth: "required", refreshIntervalMs: 60_000 }, silentLogger);
    const mesh = await startGateway(data.dir, { http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 10_000, tls: files, timeouts: TIMEOUTS } });
    const port = mesh.gateway.http!.port;
    try {
      // A TCP connection that never starts its handshake.
      const silent = rawConnection(port);
      await silent.connected;
      // A TLS connection speaking HTTP/1.1 (ALPN), its headers a byte at a time.
      const secure = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca: readFileSync(ca.certificateFile), ALPNProtocols: ["http/1.1"] });
      secure.on("error", () => undefined);
      const received: Buffer[] = [];
      secure.on("data", (chunk: Buffer) => received.push(chunk));
      const secureClosed = new Promise<true>((resolve) => secure.once("close", () => resolve(true)));
      await new Promise<void>((resolve) => secure.once("secureConnect", () => resolve()));
      const trickling = trickle(secure as net.Socket, `GET /nothing HTTP/1.1\r\nHost: gateway\r\nX-Slow: ${"a".repeat(200)}`, 100);
      assert.equal(await silent.closedWithin(HELD), true, "the connection without a handshake is closed");
      assert.equal(await Promise.race([secureClosed, sleep(HELD, undefined, { ref: false }).then(() => false)]), true, "the trickling TLS connection is closed");
      assert.match(Buffer.concat(received).toString("latin1"), /^HTTP\/1\.1 408 Request Timeout\r\n/);
      await trickling;
    } finally {
      await mesh.gateway.stop();
      files.close();
      await data.remove();
    }
  });
});
