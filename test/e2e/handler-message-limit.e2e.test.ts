import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { Client, credentials, status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { MeshService } from "@recq-mesh/kit";
import { todoListAggregate } from "@recq-mesh/todo";
import { ConnectRequest, ConnectResponse, HandlerLinkServiceService, type HandlerFrame } from "@recq-mesh/protocol/gen/recq/v1/link";
import { call, closeHandlers, eventually, failure, gatewayForSuite, startGateway, tempDir, todoClients } from "../support/mesh-harness";

const reasonOf = (error: ServiceError) => error.metadata.get("recq-reason")[0];
const ADD_TODO_ITEM = "todo.v1.TodoListCommandService/AddTodoItem";

/**
 * A handler's link (gRPC's receive limit on its stream) refuses a whole link message past its limit, and every call on
 * the link is lost with it. So the gateway must refuse a dispatch that would not fit, by its exact size, and must not
 * batch frames past that limit.
 */
describe("a handler's message limit", () => {
  const suite = gatewayForSuite("message-limit");

  it("passes a dispatch of exactly the limit and refuses one byte more as MESSAGE_TOO_LARGE, and the link lives on", async () => {
    const { mesh, clients } = suite;
    // Ids as long as the gateway takes (a 128-character command id, a routing key of ~500 UTF-8 bytes in 190
    // characters) and a history of events outside ASCII: what a size counted in UTF-16 units, or a fixed allowance
    // for everything but the payloads, gets wrong by hundreds of bytes.
    const listId = "列表ü".repeat(64).slice(0, 190);
    const commandId = (n: number) => `limit-${n}-`.padEnd(128, "c");
    const text = (pad: number) => `項目 ${"é".repeat(100)} ${"x".repeat(pad)}`;
    const writer = new MeshService({ address: mesh.address, component: "limit-writer" });
    writer.addAggregate(todoListAggregate);
    await writer.start();
    try {
      await call(clients.commands, clients.commands.createTodoList, { listId, name: "Größe ".repeat(20) });
      for (let n = 0; n < 3; n++) await call(clients.commands, clients.commands.addTodoItem, { listId, itemId: `ü${n}`, text: text(10) });
    } finally {
      await closeHandlers(mesh.gateway, [writer]);
    }

    // The exact size of the dispatch of AddTodoItem with text(100), as a link receives it.
    const probe = await linkProbe(mesh.address);
    let size: number;
    try {
      const sized = probe.nextDispatchSize();
      const refused = failure(call(clients.commands, clients.commands.addTodoItem, { listId, itemId: "next", text: text(100) }, { "recq-command-id": commandId(1) }));
      size = await sized;
      assert.equal((await refused).code, status.FAILED_PRECONDITION, "the probe answers every dispatch with a failure, so the history stays as it is");
    } finally {
      probe.close();
      await eventually(async () => assert.equal(mesh.gateway.handlerLinkCount, 0));
    }

    // A text 40 bytes longer makes a dispatch of size + 40 bytes; 41 longer, one byte more.
    const small = new MeshService({ address: mesh.address, component: "limit-small", maxMessageBytes: size + 40 });
    small.addAggregate(todoListAggregate);
    await small.start();
    try {
      const tooLarge = await failure(
        call(clients.commands, clients.commands.addTodoItem, { listId, itemId: "next", text: text(141) }, { "recq-command-id": commandId(2) }),
      );
      assert.equal(tooLarge.code, status.RESOURCE_EXHAUSTED, tooLarge.message);
      assert.equal(reasonOf(tooLarge), "MESSAGE_TOO_LARGE");
      assert.match(tooLarge.message, new RegExp(`\\(${size + 41} bytes with its history\\) exceeds the ${size + 40} bytes`));
      const atLimit = await call(clients.commands, clients.commands.addTodoItem, { listId, itemId: "next", text: text(140) }, { "recq-command-id": commandId(3) });
      assert.equal(atLimit.sequence, "5");
      const other = await call(clients.commands, clients.commands.createTodoList, { listId: "limit-other", name: "Other" });
      assert.equal(other.sequence, "1", "other calls are still served on the link");
    } finally {
      await closeHandlers(mesh.gateway, [small]);
    }
  });

  it("sends concurrent dispatches that each fit a handler's limit in messages that fit it too", async () => {
    const { mesh, clients } = suite;
    const small = new MeshService({ address: mesh.address, component: "batch-small", maxMessageBytes: 2048 });
    small.addAggregate(todoListAggregate);
    await small.start();
    try {
      for (let n = 0; n < 10; n++) {
        await call(clients.commands, clients.commands.createTodoList, { listId: `batch-${n}`, name: "n" });
        await call(clients.commands, clients.commands.addTodoItem, { listId: `batch-${n}`, itemId: "i", text: "t" });
      }
      // Ten dispatches of ~1.1 kB in one turn of the gateway's loop (one message would hold 11 kB); the handler refuses
      // each (the item exists), so its replies are small and only the gateway's messages are at stake.
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, n) =>
          failure(call(clients.commands, clients.commands.addTodoItem, { listId: `batch-${n}`, itemId: "i", text: "x".repeat(900) })).then(
            (error) => `${status[error.code]} ${reasonOf(error) ?? ""}`,
          ),
        ),
      );
      assert.deepEqual(outcomes, Array.from({ length: 10 }, () => "ALREADY_EXISTS DOMAIN_RULE"));
    } finally {
      await closeHandlers(mesh.gateway, [small]);
    }
  });
});

describe("the gateway's own link message limit", () => {
  it("refuses a dispatch past RECQ_MAX_LINK_MESSAGE_BYTES as MESSAGE_TOO_LARGE (the handler accepting more), and the link lives on", async () => {
    const data = await tempDir("own-link-limit");
    const mesh = await startGateway(data.dir, { limits: { maxLinkMessageBytes: 8192 } });
    const clients = todoClients(mesh.address);
    // The handler takes 4 MiB (its default): only the gateway's send limit is at stake.
    const handler = new MeshService({ address: mesh.address, component: "own-limit" });
    handler.addAggregate(todoListAggregate);
    await handler.start();
    try {
      await call(clients.commands, clients.commands.createTodoList, { listId: "own", name: "Own" });
      const tooLarge = await failure(call(clients.commands, clients.commands.addTodoItem, { listId: "own", itemId: "big", text: "x".repeat(9000) }));
      assert.equal(tooLarge.code, status.RESOURCE_EXHAUSTED, tooLarge.message);
      assert.equal(reasonOf(tooLarge), "MESSAGE_TOO_LARGE");
      const next = await call(clients.commands, clients.commands.addTodoItem, { listId: "own", itemId: "small", text: "fits" });
      assert.equal(next.sequence, "2", "the link served the next call");
    } finally {
      await closeHandlers(mesh.gateway, [handler]);
      clients.close();
      await mesh.gateway.stop();
      await data.remove();
    }
  });
});

interface LinkProbe {
  /** The size of the next link message that carries a dispatch (which it answers with a failure). */
  nextDispatchSize(): Promise<number>;
  close(): void;
}

/** A bare handler link subscribed to AddTodoItem that measures the messages it receives, byte for byte. */
async function linkProbe(address: string): Promise<LinkProbe> {
  const client = new Client(address, credentials.createInsecure());
  const sizes: number[] = [];
  const stream: ClientDuplexStream<ConnectRequest, ConnectResponse> = client.makeBidiStreamRequest(
    HandlerLinkServiceService.connect.path,
    (request: ConnectRequest) => Buffer.from(ConnectRequest.encode(request).finish()),
    (bytes: Buffer) => {
      sizes.push(bytes.length);
      return ConnectResponse.decode(bytes);
    },
  );
  const send = (...frames: HandlerFrame["frame"][]) => stream.write({ frames: frames.map((frame) => ({ metadata: {}, frame })) });
  const waiting: ((size: number) => void)[] = [];
  let subscribed: () => void;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  stream.on("error", () => undefined);
  stream.on("data", (response: ConnectResponse) => {
    const size = sizes.shift()!;
    if (response.frames.some((frame) => frame.frame?.$case === "subscribeResult")) subscribed();
    const dispatches = response.frames.flatMap((frame) => (frame.frame?.$case === "dispatch" ? [frame.frame.value] : []));
    if (dispatches.length === 0) return;
    assert.equal(response.frames.length, 1, "a dispatch alone in its message");
    for (const dispatch of dispatches) {
      send({ $case: "reply", value: { requestId: dispatch.requestId, outcome: { $case: "failure", value: { code: status.FAILED_PRECONDITION, message: "measured", reason: "PROBE" } } } });
    }
    waiting.shift()?.(size);
  });
  send(
    { $case: "hello", value: { component: "limit-probe", instanceId: "limit-probe-1", credentials: "", protocolVersion: 1, maxMessageBytes: 0 } },
    { $case: "subscribe", value: { subscriptions: [{ method: ADD_TODO_ITEM, loadFactor: 100, projection: "" }] } },
    { $case: "permits", value: { count: 10 } },
  );
  await ready;
  return {
    nextDispatchSize: () => new Promise((resolve) => waiting.push(resolve)),
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}
