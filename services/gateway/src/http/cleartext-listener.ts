import net from "node:net";
import { Duplex } from "node:stream";

/** The start of the HTTP/2 connection preface (`PRI * HTTP/2.0`): no HTTP/1.1 request starts this way. */
const HTTP2_PREFACE_START = Buffer.from("PRI ");

/** Where a connection goes once its first bytes say which protocol it speaks. */
export interface ProtocolServers {
  http1: { emit(event: "connection", socket: Duplex): boolean };
  http2: { emit(event: "connection", socket: Duplex): boolean };
}

export interface CleartextListenerOptions {
  /** Every accepted connection, first. */
  onConnection(socket: net.Socket): void;
  /** A connection handed over to the HTTP/1.1 server (its first bytes have come). */
  onHttp1(socket: net.Socket): void;
  /** A connection whose first bytes have not said which protocol it speaks by then is closed. */
  protocolTimeoutMs: number;
}

/**
 * One cleartext port for HTTP/1.1 and HTTP/2 (prior knowledge, as gRPC-Web proxies and `curl --http2-prior-knowledge`
 * speak it): Node serves both only behind TLS (ALPN), so the first bytes of each connection decide — as many as it
 * takes to tell `PRI ` from anything else, however they are split, within `protocolTimeoutMs`. An HTTP/1.1 connection
 * is handed over as it is, its first bytes put back; Node's HTTP/2 session reads its socket natively, past anything
 * put back, so an HTTP/2 connection is handed over as a stream that replays them first.
 */
export function cleartextListener(servers: ProtocolServers, options: CleartextListenerOptions): net.Server {
  return net.createServer((socket) => {
    // Until a server takes the socket over (and after: they add their own), a client's reset or a write to a closed
    // peer is an 'error' event: without a listener it would end the process.
    socket.on("error", destroyQuietly);
    options.onConnection(socket);
    const undecided = setTimeout(() => socket.destroy(), options.protocolTimeoutMs);
    undecided.unref();
    let first: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      first = first.length === 0 ? chunk : Buffer.concat([first, chunk]);
      const compared = Math.min(first.length, HTTP2_PREFACE_START.length);
      const http2 = first.subarray(0, compared).equals(HTTP2_PREFACE_START.subarray(0, compared));
      if (http2 && compared < HTTP2_PREFACE_START.length) return;
      clearTimeout(undecided);
      socket.off("data", onData);
      socket.pause();
      if (http2) {
        servers.http2.emit("connection", replaying(socket, first));
        return;
      }
      socket.unshift(first);
      servers.http1.emit("connection", socket);
      options.onHttp1(socket);
      socket.resume();
    };
    socket.on("data", onData);
    socket.once("close", () => clearTimeout(undecided));
  });
}

function destroyQuietly(this: net.Socket): void {
  this.destroy();
}

/** The socket as a Duplex whose reading starts with `first`, with the socket's flow control and its address. */
function replaying(socket: net.Socket, first: Buffer): Duplex {
  const stream = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, callback) => void socket.write(chunk, callback),
    final: (callback) => {
      socket.end();
      callback();
    },
    destroy: (error, callback) => {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  stream.push(first);
  socket.on("data", (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on("end", () => stream.push(null));
  socket.on("close", () => stream.destroy());
  socket.on("error", (error) => stream.destroy(error));
  Object.assign(stream, { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, remoteFamily: socket.remoteFamily });
  return stream;
}
