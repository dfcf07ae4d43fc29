import net from "node:net";
import { Duplex } from "node:stream";

/** The start of the HTTP/2 connection preface (`PRI * HTTP/2.0`): no HTTP/1.1 request starts this way. */
const HTTP2_PREFACE_START = Buffer.from("PRI ");

/** Where a connection goes once its first bytes say which protocol it speaks. */
export interface ProtocolServers {
  http1: { emit(event: "connection", socket: Duplex): boolean };
  http2: { emit(event: "connection", socket: Duplex): boolean };
}

/**
 * One cleartext port for HTTP/1.1 and HTTP/2 (prior knowledge, as gRPC-Web proxies and `curl --http2-prior-knowledge`
 * speak it): Node serves both only behind TLS (ALPN), so the first bytes of each connection decide. An HTTP/1.1
 * connection is handed over as it is, its first bytes put back; Node's HTTP/2 session reads its socket natively,
 * past anything put back, so an HTTP/2 connection is handed over as a stream that replays them first.
 */
export function cleartextListener(servers: ProtocolServers, onConnection: (socket: net.Socket) => void): net.Server {
  return net.createServer((socket) => {
    onConnection(socket);
    socket.once("data", (first: Buffer) => {
      socket.pause();
      if (first.subarray(0, HTTP2_PREFACE_START.length).equals(HTTP2_PREFACE_START)) {
        servers.http2.emit("connection", replaying(socket, first));
        return;
      }
      socket.unshift(first);
      servers.http1.emit("connection", socket);
      socket.resume();
    });
  });
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
