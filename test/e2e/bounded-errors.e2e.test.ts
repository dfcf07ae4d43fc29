import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { MAX_STATUS_MESSAGE_BYTES } from "@recq-mesh/protocol";
import { HandlerLinkServiceClient, type ConnectResponse, type HandlerFrame } from "@recq-mesh/protocol/gen/recq/v1/link";
import { call, eventually, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";

const reasonOf = (error: ServiceError) => error.metadata.get("recq-reason")[0];
/** The gateway's default RECQ_MAX_ROUTING_KEY_BYTES. */
const MAX_ROUTING_KEY_BYTES = 512;

/**
 * Error text is bounded: a caller's long id never turns into trailers a client refuses (which fails that call with
 * the wrong status, or drops the caller's whole connection), whoever echoes it.
 */
describe("bounded error text", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let clients: ReturnType<typeof todoClients>;

  beforeAll(async () => {
    data = await tempDir("bounded-errors");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    clients = todoClients(mesh.address);
  });

  afterAll(async () => {
    clients.close();
    todo.mesh.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  /** The same client keeps working: nothing above dropped its connection. */
  async function channelStillServes(listId: string): Promise<void> {
    const ack = await call(clients.commands, clients.commands.createTodoList, { listId, name: "Still here" });
    assert.equal(ack.sequence, "1");
  }

  it("refuses a routing key longer than RECQ_MAX_ROUTING_KEY_BYTES at the gateway, and passes one at the limit to the handler", async () => {
    const over = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "k".repeat(MAX_ROUTING_KEY_BYTES + 1), name: "N" }));
    assert.equal(over.code, status.INVALID_ARGUMENT);
    assert.equal(reasonOf(over), "INVALID_REQUEST");
    assert.match(over.details, /todo\.v1\.CreateTodoList\.list_id is 513 bytes: a routing key is at most 512 \(RECQ_MAX_ROUTING_KEY_BYTES\)/);
    // At the limit the gateway routes it; the TodoList's own rule (200 characters) then refuses it.
    const atLimit = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "k".repeat(MAX_ROUTING_KEY_BYTES), name: "N" }));
    assert.equal(atLimit.code, status.INVALID_ARGUMENT);
    assert.match(atLimit.details, /list_id is longer than 200 characters/);
    // Counted in bytes, not characters: 257 two-byte characters are 514 bytes.
    const wide = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "é".repeat(257), name: "N" }));
    assert.match(wide.details, /is 514 bytes/);
    const huge = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "k".repeat(140_000), name: "N" }));
    assert.equal(huge.code, status.INVALID_ARGUMENT);
    await channelStillServes("after-long-keys");
  });

  it("answers a query that echoes a 9,000- or 140,000-character id with its own status, in a bounded message", async () => {
    for (const length of [9_000, 140_000]) {
      const error = await failure(call(clients.queries, clients.queries.getTodoList, { listId: "q".repeat(length) }));
      assert.equal(error.code, status.NOT_FOUND, `${length} characters: ${error.details.slice(0, 80)}`);
      assert.equal(reasonOf(error), "DOMAIN_RULE");
      assert.ok(Buffer.byteLength(error.details) <= MAX_STATUS_MESSAGE_BYTES, `${Buffer.byteLength(error.details)} bytes`);
      assert.match(error.details, /^todo list q+ … \(\d+ bytes, cut at 1024\)$/);
    }
    await channelStillServes("after-long-query");
  });

  it("bounds the message and reason of a handler in any language, which the kit does not vet", async () => {
    // A raw link, as a handler written from docs/link-protocol.md: it answers every GetTodoList with a failure whose
    // message is 140,000 characters and whose reason is no reason at all.
    // A raw link, as a handler written from docs/link-protocol.md: it answers every GetTodoList with a failure whose
    // message is 140,000 characters and whose reason is no reason at all. On a gateway of its own, so that the
    // TodoList service above does not answer these calls instead.
    const other = await startGateway(`${data.dir}-rogue`);
    const rogue = new HandlerLinkServiceClient(other.address, credentials.createInsecure());
    const rogueLink = rogue.connect();
    rogueLink.on("error", () => undefined);
    const rogueSend = (...frames: HandlerFrame["frame"][]) => rogueLink.write({ frames: frames.map((frame) => ({ metadata: {}, frame })) });
    rogueLink.on("data", (response: ConnectResponse) => {
      for (const { frame } of response.frames) {
        if (frame?.$case !== "dispatch") continue;
        rogueSend({
          $case: "reply",
          value: { requestId: frame.value.requestId, outcome: { $case: "failure", value: { code: status.FAILED_PRECONDITION, message: "m".repeat(140_000), reason: "r\n".repeat(50_000) } } },
        });
      }
    });
    rogueSend(
      { $case: "hello", value: { component: "rogue", instanceId: "rogue-1", credentials: "", protocolVersion: 1, maxMessageBytes: 0 } },
      { $case: "subscribe", value: { subscriptions: [{ method: "todo.v1.TodoListQueryService/GetTodoList", loadFactor: 100, projection: "" }] } },
      { $case: "permits", value: { count: 10 } },
    );
    const rogueClients = todoClients(other.address);
    try {
      await eventually(async () => assert.equal(other.gateway.handlerLinkCount, 1));
      const error = await failure(call(rogueClients.queries, rogueClients.queries.getTodoList, { listId: "any" }));
      assert.equal(error.code, status.FAILED_PRECONDITION);
      assert.equal(reasonOf(error), "DOMAIN_RULE", "a malformed reason becomes the code's own");
      assert.ok(Buffer.byteLength(error.details) <= MAX_STATUS_MESSAGE_BYTES, `${Buffer.byteLength(error.details)} bytes`);
      assert.match(error.details, /^m+ … \(140000 bytes, cut at 1024\)$/);
      // The caller's connection is whole: the next call on the same client gets the same bounded answer.
      assert.equal((await failure(call(rogueClients.queries, rogueClients.queries.getTodoList, { listId: "again" }))).code, status.FAILED_PRECONDITION);
    } finally {
      rogueClients.close();
      rogueLink.end();
      rogue.close();
      await other.gateway.stop();
    }
  });
});
