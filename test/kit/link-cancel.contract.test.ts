import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "@jest/globals";
import * as grpc from "@grpc/grpc-js";
import { silentLogger } from "@recq-mesh/kit";
import { LinkClient } from "@recq-mesh/kit/internal/link/link-client";
import {
  Dispatch,
  HandlerLinkServiceService,
  type ConnectRequest,
  type ConnectResponse,
  type GatewayFrame,
  type HandlerFrame,
  type Reply,
} from "@recq-mesh/protocol/gen/recq/v1/link";
import { startTestServer, type TestServer } from "../gateway/grpc-test-server";

/**
 * The rule of docs/link-protocol.md ("Cancel"): a Cancel may arrive after the handler's final reply (the two cross
 * on the wire, or the gateway stops a stream whose reply it refused). The handler ignores a Cancel for a request
 * it does not run, and returns exactly one permit per dispatch: with its final reply or at the Cancel, whichever
 * comes first. A permit too many would let the gateway send more dispatches than the handler runs at once.
 */

const METHOD = "/test.v1.Echo/Echo";
const MAX_CONCURRENT = 4;

type LinkCall = grpc.ServerDuplexStream<ConnectRequest, ConnectResponse>;

/** A gateway played frame by frame: what the handler sent, in order, and a way to send it frames. */
interface ScriptedGateway {
  readonly frames: HandlerFrame["frame"][];
  send(...frames: GatewayFrame["frame"][]): void;
  /** Resolves with the handler's frames once `until` holds for them. */
  waitFor(until: (frames: HandlerFrame["frame"][]) => boolean): Promise<HandlerFrame["frame"][]>;
}

function scriptedGateway(): { gateway: ScriptedGateway; connect: (call: LinkCall) => void } {
  const frames: HandlerFrame["frame"][] = [];
  const waiters: Array<() => void> = [];
  let link: LinkCall | undefined;
  const gateway: ScriptedGateway = {
    frames,
    send: (...sent) => void link?.write({ frames: sent.map((frame) => ({ metadata: {}, frame })) }),
    waitFor: (until) =>
      new Promise((resolve) => {
        const check = (): void => (until(frames) ? resolve(frames) : void waiters.push(check));
        check();
      }),
  };
  const connect = (call: LinkCall): void => {
    link = call;
    call.on("data", (request: ConnectRequest) => {
      for (const { frame } of request.frames) {
        frames.push(frame);
        if (frame?.$case === "hello") gateway.send({ $case: "welcome", value: { linkId: "l1", heartbeatIntervalMs: 60_000, maxMessageBytes: 4 << 20 } });
        if (frame?.$case === "subscribe") {
          gateway.send({ $case: "subscribeResult", value: { accepted: frame.value.subscriptions.map((s) => s.method), rejected: [] } });
        }
      }
      for (const waiter of waiters.splice(0)) waiter();
    });
    call.on("end", () => call.end());
    call.on("error", () => undefined);
  };
  return { gateway, connect };
}

const dispatch = (requestId: number): GatewayFrame["frame"] => ({ $case: "dispatch", value: Dispatch.fromPartial({ requestId, method: METHOD, payload: Buffer.from("x") }) });
const cancel = (requestId: number, reason = "DEADLINE_EXCEEDED"): GatewayFrame["frame"] => ({ $case: "cancel", value: { requestId, reason } });

/** Permits the handler returned after its first grant (the window it opens with on connect). */
function permitsReturned(frames: HandlerFrame["frame"][]): number {
  const counts = frames.flatMap((frame) => (frame?.$case === "permits" ? [frame.value.count] : []));
  return counts.slice(1).reduce((sum, count) => sum + count, 0);
}

function replies(frames: HandlerFrame["frame"][]): Reply[] {
  return frames.flatMap((frame) => (frame?.$case === "reply" ? [frame.value] : []));
}

describe("the kit's link: a Cancel after the final reply", () => {
  let server: TestServer;
  let gateway: ScriptedGateway;
  let client: LinkClient;
  /** Replies of dispatches the test holds, by request id. */
  const held = new Map<number, (outcome: Reply["outcome"]) => void>();

  beforeEach(async () => {
    const scripted = scriptedGateway();
    gateway = scripted.gateway;
    server = await startTestServer((s) => s.addService(HandlerLinkServiceService, { connect: scripted.connect, consume: () => undefined }));
    client = new LinkClient({ address: server.address, component: "echo", instanceId: "e1", logger: silentLogger, maxConcurrent: MAX_CONCURRENT });
    client.handle({ method: METHOD, loadFactor: 1, projection: "" }, (request, _metadata, reply) => {
      // Odd request ids are answered at once, even ones when the test says.
      if (request.requestId % 2 === 1) reply({ $case: "answer", value: { payload: request.payload } });
      else held.set(request.requestId, reply);
    });
    await client.start();
    await gateway.waitFor((frames) => frames.some((frame) => frame?.$case === "permits"));
  });

  afterEach(async () => {
    held.clear();
    client.close();
    await server.stop();
  });

  it("ignores a Cancel for a request it already answered, or never had, and returns no permit for it", async () => {
    gateway.send(dispatch(1));
    await gateway.waitFor((frames) => replies(frames).length === 1 && permitsReturned(frames) === 1);

    // The deadline's Cancel crossed the reply on the wire; and one for an id this handler never saw.
    gateway.send(cancel(1), cancel(99, "CANCELLED"));
    // Frames are handled in order: by the time dispatch 3 is answered, the cancels have been.
    gateway.send(dispatch(3));
    const frames = await gateway.waitFor((seen) => replies(seen).length === 2 && permitsReturned(seen) >= 2);
    assert.deepEqual(
      replies(frames).map((reply) => reply.requestId),
      [1, 3],
    );
    assert.equal(permitsReturned(frames), 2, "one permit per dispatch, none for the late cancels");
  });

  it("returns the permit at a Cancel that comes first, and sends neither a reply nor a permit when the handler answers later", async () => {
    gateway.send(dispatch(2));
    await new Promise<void>((resolve) => {
      const poll = (): void => void (held.has(2) ? resolve() : setImmediate(poll));
      poll();
    });
    gateway.send(cancel(2));
    await gateway.waitFor((frames) => permitsReturned(frames) === 1);
    held.get(2)?.({ $case: "answer", value: { payload: Buffer.from("late") } });
    gateway.send(cancel(2));
    gateway.send(dispatch(5));
    const frames = await gateway.waitFor((seen) => replies(seen).length === 1 && permitsReturned(seen) >= 2);
    assert.deepEqual(
      replies(frames).map((reply) => reply.requestId),
      [5],
    );
    assert.equal(permitsReturned(frames), 2);
  });
});
