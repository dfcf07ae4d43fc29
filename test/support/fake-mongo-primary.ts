import net from "node:net";
import { BSON, type Document } from "mongodb";

/**
 * A stand-in for a single-node replica set's primary, on 127.0.0.1 and port 0, for tests of what the real MongoDB
 * driver sends and when — an order between commands that a real server cannot be made to show at will (an insert
 * held while another command arrives). It speaks the wire protocol's OP_MSG (and OP_QUERY for a legacy handshake),
 * answers `hello` itself and every other command with what `answer` returns (or resolves to, when late). It stores
 * nothing: a test gives the answers its driver calls need. Connect with `serverMonitoringMode: "poll"` (it does
 * not stream `hello` answers).
 */
export class FakeMongoPrimary {
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  /** `answer` gets each command but `hello`, with its name; it returns the reply document, or a promise of it. */
  static async start(answer: (name: string, command: Document) => Document | Promise<Document>): Promise<FakeMongoPrimary> {
    let port = 0;
    const server = net.createServer((socket) => serve(socket, (command) => {
      const name = Object.keys(command)[0] ?? "";
      return /^(hello|ismaster|isMaster)$/.test(name) ? hello(port) : answer(name, command);
    }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
    return new FakeMongoPrimary(server, port);
  }

  get uri(): string {
    return `mongodb://127.0.0.1:${this.port}/?replicaSet=rs0&serverMonitoringMode=poll&serverSelectionTimeoutMS=2000`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

function serve(socket: net.Socket, answer: (command: Document) => Document | Promise<Document>): void {
  let pending = Buffer.alloc(0);
  socket.on("error", () => undefined);
  socket.on("data", (data: Buffer) => {
    pending = Buffer.concat([pending, data]);
    while (pending.length >= 16 && pending.length >= pending.readInt32LE(0)) {
      const message = pending.subarray(0, pending.readInt32LE(0));
      pending = pending.subarray(message.length);
      const requestId = message.readInt32LE(4);
      const opCode = message.readInt32LE(12);
      if (opCode !== OP_MSG && opCode !== OP_QUERY) continue;
      const command = opCode === OP_MSG ? opMsgCommand(message) : opQueryCommand(message);
      void Promise.resolve(answer(command)).then((reply) => {
        if (!socket.destroyed) socket.write(opCode === OP_MSG ? opMsgReply(requestId, reply) : opReply(requestId, reply));
      });
    }
  });
}

/** The command of an OP_MSG: its body section, with each document sequence (kind 1) as an array field. */
function opMsgCommand(message: Buffer): Document {
  const command: Document = {};
  let offset = 20;
  while (offset < message.length) {
    const kind = message[offset++];
    const size = message.readInt32LE(offset);
    if (kind === 0) {
      Object.assign(command, BSON.deserialize(message.subarray(offset, offset + size)));
    } else {
      const end = offset + size;
      const nameEnd = message.indexOf(0, offset + 4);
      const name = message.toString("utf8", offset + 4, nameEnd);
      const documents: Document[] = [];
      for (let at = nameEnd + 1; at < end; at += message.readInt32LE(at)) documents.push(BSON.deserialize(message.subarray(at, at + message.readInt32LE(at))));
      command[name] = documents;
    }
    offset += size;
  }
  return command;
}

function opQueryCommand(message: Buffer): Document {
  const at = message.indexOf(0, 20) + 1 + 8; // past the collection name, numberToSkip and numberToReturn
  return BSON.deserialize(message.subarray(at, at + message.readInt32LE(at)));
}

function opMsgReply(responseTo: number, reply: Document): Buffer {
  const body = BSON.serialize(reply);
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + body.length, 0);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(OP_MSG, 12);
  return Buffer.concat([header, body]);
}

function opReply(responseTo: number, reply: Document): Buffer {
  const body = BSON.serialize(reply);
  const header = Buffer.alloc(36);
  header.writeInt32LE(36 + body.length, 0);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(OP_REPLY, 12);
  header.writeInt32LE(1, 32); // numberReturned
  return Buffer.concat([header, body]);
}

/** A writable primary of replica set `rs0` that this server alone is, on a recent wire version. */
function hello(port: number): Document {
  const me = `127.0.0.1:${port}`;
  const timestamp = new BSON.Timestamp({ t: 1, i: 1 });
  return {
    helloOk: true,
    isWritablePrimary: true,
    ismaster: true,
    setName: "rs0",
    setVersion: 1,
    hosts: [me],
    me,
    primary: me,
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: 1,
    minWireVersion: 0,
    maxWireVersion: 25,
    readOnly: false,
    electionId: new BSON.ObjectId("7fffffff0000000000000001"),
    $clusterTime: { clusterTime: timestamp, signature: { hash: new BSON.Binary(Buffer.alloc(20)), keyId: BSON.Long.fromNumber(0) } },
    operationTime: timestamp,
    ok: 1,
  };
}
