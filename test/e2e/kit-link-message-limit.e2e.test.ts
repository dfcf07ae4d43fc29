import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status, type ServiceError } from "@grpc/grpc-js";
import { EmbeddedViewStore, MeshService, type QueryDefinition } from "@recq-mesh/kit";
import { ConnectRequest } from "@recq-mesh/protocol/gen/recq/v1/link";
import { todoEvents, todoListAggregate } from "@recq-mesh/todo";
import type { DeadEventServiceClient } from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoListQueryServiceService, TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { capturingLogger, deadEventClient, type LogLine } from "../support/dead-event-audit";
import { call, closeHandlers, eventually, failure, gatewayForSuite, startGateway, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";

const reasonOf = (error: ServiceError) => error.metadata.get("recq-reason")[0];
const outcomeOf = (error: ServiceError) => `${status[error.code]} ${reasonOf(error) ?? ""}`;
const LIMIT = 4096;

/**
 * The kit's side of a link: gRPC refuses a whole link message past the kit's own send limit or the gateway's receive
 * limit (Welcome.max_message_bytes), and every call on the link is lost with it (HANDLER_LOST). So the kit must bound
 * its batches by both, and fail a single frame too large (a reply, an answer of a stream, a call) alone, sized exactly.
 */
describe("the kit's link messages", () => {
  const suite = gatewayForSuite("kit-message-limit");

  it("carries ten concurrent replies that each fit the handler's send limit, in messages that fit it too", async () => {
    const { mesh, clients } = suite;
    const lines: LogLine[] = [];
    const small = new MeshService({ address: mesh.address, component: "kit-batch-small", maxMessageBytes: 2048, logger: capturingLogger(lines) });
    small.addAggregate(todoListAggregate);
    await small.start();
    try {
      for (let n = 0; n < 10; n++) await call(clients.commands, clients.commands.createTodoList, { listId: `kit-batch-${n}`, name: "n" });
      // Ten dispatches of ~1.1 kB reach the handler in one turn; each reply carries a ~1 kB event: ten of them in one
      // message would be 10 kB.
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, n) =>
          call(clients.commands, clients.commands.addTodoItem, { listId: `kit-batch-${n}`, itemId: "i", text: "x".repeat(900) }).then(
            (ack) => `OK ${ack.sequence}`,
            outcomeOf,
          ),
        ),
      );
      assert.deepEqual(outcomes, Array.from({ length: 10 }, () => "OK 2"));
      assert.deepEqual(linkLosses(lines), [], "the link was never lost");
    } finally {
      await closeHandlers(mesh.gateway, [small]);
    }
  });

  it("passes a reply of exactly its own send limit, fails one byte more alone as MESSAGE_TOO_LARGE, and serves the next call", async () => {
    const { mesh, clients } = suite;
    const lines: LogLine[] = [];
    const views = new MeshService({ address: mesh.address, component: "kit-limit-own", maxMessageBytes: LIMIT, logger: capturingLogger(lines) });
    views.addQueries(sizedViews());
    await views.start();
    try {
      await assertReplyLimit(clients, LIMIT);
      assert.deepEqual(linkLosses(lines), [], "the link was never lost");
    } finally {
      await closeHandlers(mesh.gateway, [views]);
    }
  });

  it("ends a streaming query whose next answer is too large with MESSAGE_TOO_LARGE, stops its handler, and serves the next call", async () => {
    const { mesh, clients } = suite;
    const lines: LogLine[] = [];
    const stopped: string[] = [];
    const views = new MeshService({ address: mesh.address, component: "kit-limit-stream", maxMessageBytes: LIMIT, logger: capturingLogger(lines) });
    views.addQueries(sizedViews((reason) => stopped.push(reason)));
    await views.start();
    try {
      const stream = clients.queries.watchTodoList({ listId: `name:${LIMIT}` });
      const answers: number[] = [];
      const ended = new Promise<ServiceError>((resolve) => {
        stream.on("data", (view: TodoListView) => answers.push(view.name.length));
        stream.on("error", resolve);
      });
      const error = await ended;
      assert.equal(outcomeOf(error), "RESOURCE_EXHAUSTED MESSAGE_TOO_LARGE", error.message);
      assert.deepEqual(answers, [1], "the answer before the large one arrived");
      await eventually(async () => assert.deepEqual(stopped, ["MESSAGE_TOO_LARGE"], "the handler's signal was aborted"));
      const next = await call(clients.queries, clients.queries.getTodoList, { listId: "name:10" });
      assert.equal(next.name.length, 10);
      assert.deepEqual(linkLosses(lines), [], "the link was never lost");
    } finally {
      await closeHandlers(mesh.gateway, [views]);
    }
  });

  it("refuses a call from the handler that is too large for its link, alone, and sends the next one", async () => {
    const { mesh } = suite;
    const lines: LogLine[] = [];
    const caller = new MeshService({ address: mesh.address, component: "kit-limit-call", maxMessageBytes: LIMIT, logger: capturingLogger(lines) });
    caller.addAggregate(todoListAggregate);
    await caller.start();
    try {
      const refused = await caller.call(TodoListCommandServiceService.createTodoList, { listId: "kit-call-large", name: "n".repeat(LIMIT) }).then(
        () => assert.fail("the call was sent"),
        (error: { code: number; reason: string }) => error,
      );
      assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
      assert.equal(refused.reason, "MESSAGE_TOO_LARGE");
      const ack = await caller.call(TodoListCommandServiceService.createTodoList, { listId: "kit-call-small", name: "n" });
      assert.equal(ack.sequence, "1");
      assert.deepEqual(linkLosses(lines), [], "the link was never lost");
    } finally {
      await closeHandlers(mesh.gateway, [caller]);
    }
  });
});

describe("the kit's link messages, within the gateway's announced limit", () => {
  const suite = gatewayForSuite("kit-gateway-limit", { limits: { maxLinkMessageBytes: LIMIT } });

  it("passes a reply of exactly Welcome.max_message_bytes, fails one byte more alone, and serves the next call", async () => {
    const { mesh, clients } = suite;
    const lines: LogLine[] = [];
    const views = new MeshService({ address: mesh.address, component: "kit-limit-gateway", logger: capturingLogger(lines) });
    views.addQueries(sizedViews());
    await views.start();
    try {
      await assertReplyLimit(clients, LIMIT);
      assert.deepEqual(linkLosses(lines), [], "the link was never lost");
    } finally {
      await closeHandlers(mesh.gateway, [views]);
    }
  });
});

describe("a consumer's failure report", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let clients: ReturnType<typeof todoClients>;
  let admin: DeadEventServiceClient;

  beforeAll(async () => {
    data = await tempDir("kit-report-limit");
    mesh = await startGateway(data.dir, { limits: { maxLinkMessageBytes: 128 * 1024 } });
    clients = todoClients(mesh.address);
    admin = deadEventClient(mesh.address);
  });

  afterAll(async () => {
    clients.close();
    admin.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("carries an error text cut to fit the gateway's receive limit, so the event is parked instead of retried for ever", async () => {
    const lines: LogLine[] = [];
    const writer = new MeshService({ address: mesh.address, component: "kit-report-writer" });
    writer.addAggregate(todoListAggregate);
    const projector = new MeshService({ address: mesh.address, component: "kit-report-projector", logger: capturingLogger(lines) });
    projector.addProjection(
      {
        name: "kit-report",
        scope: "shared",
        store: new EmbeddedViewStore(),
        events: todoEvents,
        // An error quoting 256 KiB of text: twice what one message to this gateway may hold.
        apply: async () => {
          throw new Error(`cannot apply: ${"q".repeat(256 * 1024)}`);
        },
      },
      { deadEvents: { attempts: 1, initialBackoffMs: 10, maxBackoffMs: 20 } },
    );
    await Promise.all([writer.start(), projector.start()]);
    try {
      const created = await call(clients.commands, clients.commands.createTodoList, { listId: "kit-report", name: "n" });
      const parked = await eventually(async () => {
        const answer = await call(admin, admin.listParkedEvents, { consumer: "kit-report", afterPosition: "0", pageSize: 0 });
        assert.equal(answer.events.length, 1, "the event was parked");
        return answer.events[0]!;
      });
      assert.equal(parked.position, created.position);
      assert.match(parked.error, /^cannot apply: q+/);
      assert.deepEqual(
        lines.filter((line) => line.message === "consumer stream lost; reconnecting"),
        [],
        "the report did not break the stream",
      );
    } finally {
      await closeHandlers(mesh.gateway, [writer, projector]);
    }
  });
});

/** GetTodoList of `name:N` answers a view whose name is N characters; WatchTodoList answers a 1-character one first. */
function sizedViews(onStopped: (reason: string) => void = () => undefined): QueryDefinition<typeof TodoListQueryServiceService> {
  return {
    service: TodoListQueryServiceService,
    handlers: {
      getTodoList: async (request) => namedView(lengthOf(request.listId)),
      listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
      watchTodoList: async (request, context) => {
        context.emit(namedView(1));
        context.emit(namedView(lengthOf(request.listId)));
        if (!context.signal.aborted) await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
        onStopped((context.signal.reason as { reason?: string } | undefined)?.reason ?? "");
      },
    },
  };
}

function lengthOf(listId: string): number {
  return Number(listId.slice("name:".length));
}

function namedView(length: number): TodoListView {
  return TodoListView.fromPartial({ name: "x".repeat(length) });
}

/** The bytes of the link message that carries the answer `view` alone (request ids below 128 take one byte). */
function answerMessageBytes(view: TodoListView): number {
  const payload = Buffer.from(TodoListView.encode(view).finish());
  return ConnectRequest.encode({ frames: [{ metadata: {}, frame: { $case: "reply", value: { requestId: 1, outcome: { $case: "answer", value: { payload } } } } }] }).finish()
    .length;
}

/** An answer whose link message is `limit` bytes arrives; one a byte larger fails alone; the next call is served. */
async function assertReplyLimit(clients: ReturnType<typeof todoClients>, limit: number): Promise<void> {
  let length = 0;
  while (answerMessageBytes(namedView(length + 1)) <= limit) length += 1;
  assert.equal(answerMessageBytes(namedView(length)), limit, "a name length gives a message of exactly the limit");
  const atLimit = await call(clients.queries, clients.queries.getTodoList, { listId: `name:${length}` });
  assert.equal(atLimit.name.length, length);
  const tooLarge = await failure(call(clients.queries, clients.queries.getTodoList, { listId: `name:${length + 1}` }));
  assert.equal(outcomeOf(tooLarge), "RESOURCE_EXHAUSTED MESSAGE_TOO_LARGE", tooLarge.message);
  assert.match(tooLarge.message, new RegExp(`the reply is ${limit + 1} bytes; the link carries ${limit} per message`));
  const next = await call(clients.queries, clients.queries.getTodoList, { listId: "name:10" });
  assert.equal(next.name.length, 10, "the next call is served on the same link");
}

function linkLosses(lines: readonly LogLine[]): LogLine[] {
  return lines.filter((line) => line.message === "link lost; reconnecting");
}
