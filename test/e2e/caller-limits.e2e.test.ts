// The limits on what a caller may hold of the gateway (issue 10, items 2 and 3), each at its boundary, with bare
// HTTP/2 clients that send what a grpc-js client never would: a length prefix larger than the body, a request
// that stops mid-message, more streams than the connection allows.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshService, EmbeddedViewStore, TracedViewStore, type Logger } from "@recq-mesh/kit";
import { todoListAggregate, todoListProjection, todoListQueries } from "@recq-mesh/todo";
import { GetTodoList, TodoListQueryServiceService, TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { call, closeHandlers, startGateway, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";
import { framed, rawAnswer, rawClosed, rawRequest, within } from "../support/raw-grpc";

const GET_TODO_LIST = "/todo.v1.TodoListQueryService/GetTodoList";
const BIG_NAME = "n".repeat(64 * 1024);
/** Above the default RECQ_MAX_REQUEST_BYTES (4 MiB) too. */
const HUGE_NAME = "h".repeat(5 * 1024 * 1024);
const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** A GetTodoList request of exactly `bytes` bytes (a list id of 128..16383 bytes takes a 2-byte length). */
function getTodoListOf(bytes: number): Buffer {
  const request = Buffer.from(GetTodoList.encode({ listId: "l".repeat(bytes - 3) }).finish());
  assert.equal(request.length, bytes);
  return request;
}

/**
 * A query handler whose views are 64 KiB (5 MiB for a list id starting "huge"): each answer crosses its link as a
 * message far above the callers' limit.
 */
async function startBigViews(address: string): Promise<MeshService> {
  const mesh = new MeshService({ address, component: "big-views" });
  mesh.addQueries({
    service: TodoListQueryServiceService,
    handlers: {
      getTodoList: async (request) => TodoListView.fromPartial({ listId: request.listId.slice(0, 8), name: request.listId.startsWith("huge") ? HUGE_NAME : BIG_NAME }),
      listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
      watchTodoList: async () => undefined,
    },
  });
  await mesh.start();
  return mesh;
}

describe("callers' limits", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let handler: MeshService;
  const sessions: http2.ClientHttp2Session[] = [];
  const connect = () => {
    const session = http2.connect(`http://${mesh.address}`);
    sessions.push(session);
    return session;
  };

  beforeAll(async () => {
    data = await tempDir("caller-limits");
    mesh = await startGateway(data.dir, { limits: { maxRequestBytes: 1024, maxRequestArrivalMs: 500, maxStreamsPerConnection: 2 } });
    handler = await startBigViews(mesh.address);
  });

  afterAll(async () => {
    for (const session of sessions) session.destroy();
    await closeHandlers(mesh.gateway, [handler]);
    await mesh.gateway.stop();
    await data.remove();
  });

  it("answers a request of RECQ_MAX_REQUEST_BYTES, while handler links carry messages far larger", async () => {
    const stream = rawRequest(connect(), GET_TODO_LIST);
    let answerBytes = 0;
    stream.on("data", (chunk: Buffer) => (answerBytes += chunk.length));
    const answer = rawAnswer(stream);
    stream.end(framed(1024, getTodoListOf(1024)));
    assert.deepEqual(await within(answer, 10_000, "the answer"), { status: status.OK, message: "OK", reason: undefined });
    assert.ok(answerBytes > BIG_NAME.length, "the 64 KiB view came over the link and back to the caller");
    const huge = rawRequest(connect(), GET_TODO_LIST);
    let hugeBytes = 0;
    huge.on("data", (chunk: Buffer) => (hugeBytes += chunk.length));
    const hugeAnswer = rawAnswer(huge);
    huge.end(framed(6, GetTodoList.encode({ listId: "huge" }).finish()));
    assert.equal((await within(hugeAnswer, 10_000, "the answer with a 5 MiB view")).status, status.OK);
    assert.ok(hugeBytes > HUGE_NAME.length, "a 5 MiB link message came through");
  });

  it("refuses a request declaring one byte more, or 60 MiB, from its length prefix: the body is never sent", async () => {
    for (const declared of [1025, 60 * 1024 * 1024]) {
      const stream = rawRequest(connect(), GET_TODO_LIST);
      const answer = rawAnswer(stream);
      const closed = rawClosed(stream);
      // The prefix and 10 bytes: the rest is held back until the gateway answers, which it must do without it.
      stream.write(framed(declared, Buffer.alloc(10)));
      assert.deepEqual(await within(answer, 5_000, `the answer to ${declared} bytes declared`), {
        status: status.RESOURCE_EXHAUSTED,
        message: `the request is ${declared} bytes; the gateway accepts at most 1024`,
        reason: "REQUEST_TOO_LARGE",
      });
      assert.equal(await within(closed, 5_000, "the stream's reset"), NGHTTP2_NO_ERROR, "the gateway reset the stream: the caller stops sending");
    }
  });

  it("ends a request still arriving after RECQ_MAX_REQUEST_ARRIVAL_MS, its own deadline or not, and frees its stream slot", async () => {
    // Two stalled requests fill the connection's two slots; a third waits in the client for one to free.
    const session = connect();
    const stalled = [rawRequest(session, GET_TODO_LIST), rawRequest(session, GET_TODO_LIST, { "grpc-timeout": "1H" })];
    const answers = stalled.map((stream) => rawAnswer(stream));
    const closes = stalled.map((stream) => rawClosed(stream));
    for (const stream of stalled) stream.write(framed(1000, Buffer.alloc(9)));
    for (const answer of answers) {
      assert.deepEqual(await within(answer, 5_000, "the stalled request's answer"), {
        status: status.DEADLINE_EXCEEDED,
        message: "the request had not fully arrived 500 ms after its headers (the gateway's limit)",
        reason: "DEADLINE_EXCEEDED",
      });
    }
    for (const closed of closes) assert.equal(await within(closed, 5_000, "the stalled stream's reset"), NGHTTP2_NO_ERROR);
    const next = rawRequest(session, GET_TODO_LIST);
    const answer = rawAnswer(next);
    next.end(framed(6, GetTodoList.encode({ listId: "next" }).finish()));
    assert.equal((await within(answer, 5_000, "a request on the freed slots")).status, status.OK);
  });

  it("answers a request that arrives in pieces within RECQ_MAX_REQUEST_ARRIVAL_MS", async () => {
    const stream = rawRequest(connect(), GET_TODO_LIST);
    const answer = rawAnswer(stream);
    const whole = framed(200, getTodoListOf(200));
    stream.write(whole.subarray(0, 50));
    await new Promise((resolve) => setTimeout(resolve, 100));
    stream.end(whole.subarray(50));
    assert.equal((await within(answer, 5_000, "the answer")).status, status.OK);
  });

  it("refuses a stream beyond RECQ_MAX_STREAMS_PER_CONNECTION with REFUSED_STREAM, and serves other connections", async () => {
    // Opened before the gateway's SETTINGS reach the client, so the client cannot hold the third back itself.
    const session = connect();
    const streams = [0, 1, 2].map(() => rawRequest(session, GET_TODO_LIST));
    const closes = streams.map((stream) => rawClosed(stream));
    for (const stream of streams) stream.write(framed(6, GetTodoList.encode({ listId: "held" }).finish()));
    assert.equal(await within(closes[2]!, 5_000, "the third stream's refusal"), NGHTTP2_REFUSED_STREAM);
    const clients = todoClients(mesh.address);
    try {
      const view = await call(clients.queries, clients.queries.getTodoList, { listId: "other" });
      assert.equal(view.name, BIG_NAME, "another connection is served meanwhile");
    } finally {
      clients.close();
    }
    // The two at the limit are served once their requests end.
    const answers = streams.slice(0, 2).map((stream) => rawAnswer(stream));
    for (const stream of streams.slice(0, 2)) stream.end();
    for (const answer of answers) assert.equal((await within(answer, 5_000, "a stream at the limit")).status, status.OK);
  });
});

describe("idle connections", () => {
  it("are closed after RECQ_MAX_CONNECTION_IDLE_MS; a handler link and a consumer stream are never idle", async () => {
    const data = await tempDir("idle");
    const mesh = await startGateway(data.dir, { limits: { maxConnectionIdleMs: 300 } });
    const warnings: string[] = [];
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (message) => warnings.push(message), error: (message) => warnings.push(message) };
    const todo = new MeshService({ address: mesh.address, component: "todo", logger });
    const views = new EmbeddedViewStore();
    const projection = todoListProjection(views, "instance");
    todo.addAggregate(todoListAggregate).addProjection(projection).addQueries(todoListQueries(new TracedViewStore(views), projection));
    await todo.start();
    const session = http2.connect(`http://${mesh.address}`);
    try {
      const goaway = new Promise<number>((resolve) => session.on("goaway", (code) => resolve(code)));
      const closed = new Promise<void>((resolve) => session.on("close", resolve));
      const stream = rawRequest(session, GET_TODO_LIST);
      const answer = rawAnswer(stream);
      stream.end(framed(6, GetTodoList.encode({ listId: "none" }).finish()));
      assert.equal((await within(answer, 5_000, "the answer")).status, status.NOT_FOUND);
      // Idle from its answer on: the gateway says GOAWAY and closes it.
      assert.equal(await within(goaway, 5_000, "the GOAWAY"), NGHTTP2_NO_ERROR);
      await within(closed, 5_000, "the connection's close");
      // The handler's connections carry their link and consumer streams the whole time: both still the first.
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.deepEqual(warnings, [], "no link or consumer stream was lost");
      assert.equal(mesh.gateway.handlerLinkCount, 1);
      const clients = todoClients(mesh.address);
      try {
        const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "after-idle", name: "Still linked" });
        assert.equal(ack.sequence, "1");
      } finally {
        clients.close();
      }
    } finally {
      session.destroy();
      await closeHandlers(mesh.gateway, [todo]);
      await mesh.gateway.stop();
      await data.remove();
    }
  });
});
