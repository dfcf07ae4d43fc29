// Pins what services/gateway/src/server/grpc-call-internals.ts reads of grpc-js's server calls, against the
// installed grpc-js: if an upgrade moves any of it, this fails (and the gateway would log that it fell back).
import assert from "node:assert/strict";
import http2 from "node:http2";
import { afterEach, describe, it } from "@jest/globals";
import * as grpc from "@grpc/grpc-js";
import { callTransport, limitMessages, type CallTransport } from "@recq-mesh/gateway/internal/server/grpc-call-internals";
import { framed, rawAnswer, rawClosed, rawRequest, within } from "../support/raw-grpc";

const passThrough = (value: Buffer) => value;
const echo = {
  path: "/test.Echo/Echo",
  requestStream: false,
  responseStream: false,
  requestSerialize: passThrough,
  requestDeserialize: passThrough,
  responseSerialize: passThrough,
  responseDeserialize: passThrough,
};

interface Running {
  session: http2.ClientHttp2Session;
  received: Buffer[];
  stop(): Promise<void>;
}

/** A bare grpc-js server (receive limit 1 KiB) whose only interceptor hands each call's transport to `onCall`. */
async function serve(onCall: (transport: CallTransport | undefined, call: grpc.ServerInterceptingCallInterface) => void): Promise<Running> {
  const received: Buffer[] = [];
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 1024,
    interceptors: [
      (_method, call) => {
        onCall(callTransport(call), call);
        return call as grpc.ServerInterceptingCall;
      },
    ],
  });
  server.addService({ Echo: echo }, { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => (received.push(call.request), done(null, call.request)) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  const session = http2.connect(`http://127.0.0.1:${port}`);
  return {
    session,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        session.destroy();
        server.forceShutdown();
        resolve();
      }),
  };
}

function request(session: http2.ClientHttp2Session): http2.ClientHttp2Stream {
  return rawRequest(session, echo.path);
}

const grpcStatus = async (stream: http2.ClientHttp2Stream) => (await within(rawAnswer(stream), 5_000, "the answer")).status;

describe("grpc-js call internals the gateway relies on", () => {
  let running: Running | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it("finds the transport of every call a server's first interceptor is given", async () => {
    const transports: (CallTransport | undefined)[] = [];
    running = await serve((transport) => transports.push(transport));
    const stream = request(running.session);
    stream.end(framed(2, Buffer.from("hi")));
    assert.equal(await grpcStatus(stream), grpc.status.OK);
    assert.equal(transports.length, 1);
    assert.ok(transports[0], "grpc-js's BaseServerInterceptingCall still has stream, decoder and maxReceiveMessageSize");
  });

  it("refuses a message from its declared length, before its body is sent, through limitMessages' handler", async () => {
    const declared: number[] = [];
    running = await serve((transport, call) =>
      limitMessages(transport!, 100, {
        messageTooLarge: (bytes) => {
          declared.push(bytes);
          call.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: "too large" });
        },
      }),
    );
    const stream = request(running.session);
    const status = grpcStatus(stream);
    // Only the prefix and 10 bytes of a 60 MiB message are ever sent: the answer must come without the rest.
    stream.write(framed(60 * 1024 * 1024, Buffer.alloc(10)));
    assert.equal(await status, grpc.status.RESOURCE_EXHAUSTED);
    assert.deepEqual(declared, [60 * 1024 * 1024]);
    assert.equal(running.received.length, 0);
  });

  it("lets one call take messages above the server's receive limit", async () => {
    running = await serve((transport) => limitMessages(transport!, 4096));
    const stream = request(running.session);
    stream.end(framed(3000, Buffer.alloc(3000, 1)));
    assert.equal(await grpcStatus(stream), grpc.status.OK);
    assert.equal(running.received[0]?.length, 3000);
  });

  it("resets a call's stream after a trailers-only answer, and the caller still gets the status", async () => {
    running = await serve((transport, call) =>
      setTimeout(() => {
        call.sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details: "stalled" });
        transport!.stream.close(http2.constants.NGHTTP2_NO_ERROR);
      }, 50),
    );
    const stream = request(running.session);
    const status = grpcStatus(stream);
    const closed = within(rawClosed(stream), 5_000, "the stream's close");
    stream.write(framed(1000, Buffer.alloc(9)));
    assert.equal(await status, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(await closed, http2.constants.NGHTTP2_NO_ERROR, "the stream closed although the caller never ended it");
  });
});
