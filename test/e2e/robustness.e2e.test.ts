import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import http2 from "node:http2";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { MeshError, MeshService } from "@recq-mesh/kit";
import { todoListAggregate } from "@recq-mesh/todo";
import { HandlerLinkServiceClient, type ConnectResponse, type HandlerFrame } from "@recq-mesh/protocol/gen/recq/v1/link";
import { TodoListQueryServiceService, TodoListView, WatchTodoList } from "@recq-mesh/todo/gen/todo/v1/queries";
import { call, closeHandlers, eventually, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway, startHangingQueries } from "../support/mesh-harness";

const reasonOf = (error: ServiceError) => error.metadata.get("recq-reason")[0];

describe("robustness", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let clients: ReturnType<typeof todoClients>;

  beforeAll(async () => {
    data = await tempDir("robust");
    mesh = await startGateway(data.dir, { limits: { maxBufferedAnswers: 8 } });
    clients = todoClients(mesh.address);
  });

  afterAll(async () => {
    clients.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("fails calls on a link that broke the protocol as HANDLER_LOST, records nothing, and a retry succeeds", async () => {
    const raw = new HandlerLinkServiceClient(mesh.address, credentials.createInsecure());
    const link = raw.connect();
    const send = (...frames: HandlerFrame["frame"][]) => link.write({ frames: frames.map((frame) => ({ metadata: {}, frame })) });
    const dispatched = new Promise<void>((resolve) =>
      link.on("data", (response: ConnectResponse) => {
        if (response.frames.some((f) => f.frame?.$case === "dispatch")) resolve();
      }),
    );
    link.on("error", () => undefined);
    send(
      { $case: "hello", value: { component: "rogue", instanceId: "rogue-1", credentials: "", protocolVersion: 1, maxMessageBytes: 0 } },
      { $case: "subscribe", value: { subscriptions: [{ method: "todo.v1.TodoListCommandService/CreateTodoList", loadFactor: 100, projection: "" }] } },
      { $case: "permits", value: { count: 10 } },
    );
    await eventually(async () => assert.equal(mesh.gateway.handlerLinkCount, 1));
    const headers = { "recq-command-id": "violated-1" };
    const pending = failure(call(clients.commands, clients.commands.createTodoList, { listId: "violated", name: "V" }, headers));
    await dispatched;
    send({ $case: "hello", value: { component: "rogue", instanceId: "rogue-1", credentials: "", protocolVersion: 1, maxMessageBytes: 0 } });
    const error = await pending;
    assert.equal(error.code, status.UNAVAILABLE);
    assert.equal(reasonOf(error), "HANDLER_LOST");
    raw.close();
    const todo = await startTodo(mesh.address, { roles: ["commands"] });
    try {
      const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "violated", name: "V" }, headers);
      assert.equal(ack.sequence, "1");
    } finally {
      await closeHandlers(mesh.gateway, [todo.mesh]);
    }
  });

  it("lets a repeat of a running command outlive the first caller's deadline", async () => {
    let release!: () => void;
    const handler = new MeshService({ address: mesh.address, component: "slow" });
    handler.addAggregate({
      ...todoListAggregate,
      decide: {
        ...todoListAggregate.decide,
        createTodoList: (command) =>
          new Promise((resolve) => (release = () => resolve([{ type: "todo.v1.TodoListCreated", data: { listId: command.listId, name: command.name } }]))),
      },
    });
    await handler.start();
    try {
      const headers = { "recq-command-id": "shared-1" };
      const impatient = failure(call(clients.commands, clients.commands.createTodoList, { listId: "shared", name: "S" }, headers, 200));
      await new Promise((r) => setTimeout(r, 50));
      const patient = call(clients.commands, clients.commands.createTodoList, { listId: "shared", name: "S" }, headers, 5_000);
      assert.equal((await impatient).code, status.DEADLINE_EXCEEDED);
      release();
      const ack = await patient;
      assert.equal(ack.commandId, "shared-1");
      assert.equal(ack.sequence, "1");
    } finally {
      await closeHandlers(mesh.gateway, [handler]);
    }
  });

  it("runs a retry afresh when every caller of the first attempt gave up while it queued", async () => {
    const release: (() => void)[] = [];
    const handler = new MeshService({ address: mesh.address, component: "queued" });
    handler.addAggregate({
      ...todoListAggregate,
      decide: {
        ...todoListAggregate.decide,
        createTodoList: (command) =>
          new Promise((resolve) => release.push(() => resolve([{ type: "todo.v1.TodoListCreated", data: { listId: command.listId, name: command.name } }]))),
      },
    });
    await handler.start();
    try {
      const blocking = call(clients.commands, clients.commands.createTodoList, { listId: "queued", name: "First" });
      await eventually(async () => assert.equal(release.length, 1));
      const headers = { "recq-command-id": "queued-retry" };
      // Queued behind the first command of its aggregate until its deadline passes.
      const abandoned = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "queued", name: "Again" }, headers, 200));
      assert.equal(abandoned.code, status.DEADLINE_EXCEEDED);
      const retry = call(clients.commands, clients.commands.createTodoList, { listId: "queued", name: "Again" }, headers, 10_000);
      release.shift()!();
      await blocking;
      await eventually(async () => assert.equal(release.length, 1));
      release.shift()!();
      const ack = await retry;
      assert.equal(ack.commandId, "queued-retry");
      assert.equal(ack.sequence, "2");
    } finally {
      await closeHandlers(mesh.gateway, [handler]);
    }
  });

  it("drains a handler under load without failing a single call", async () => {
    const a = await startTodo(mesh.address, { roles: ["commands"], instanceId: "drain-a" });
    const b = await startTodo(mesh.address, { roles: ["commands"], instanceId: "drain-b" });
    let failures = 0;
    let done = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          await call(clients.commands, clients.commands.createTodoList, { listId: `load-${w}-${i}`, name: "L" });
          done += 1;
        } catch {
          failures += 1;
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    await eventually(async () => assert.ok(done > 100));
    await a.mesh.drain();
    const afterDrain = done;
    await eventually(async () => assert.ok(done > afterDrain + 100), 10_000);
    stop = true;
    await Promise.all(workers);
    assert.equal(failures, 0);
    await closeHandlers(mesh.gateway, [b.mesh]);
  });

  it("answers INTERNAL when a handler's answer does not encode, and the handler lives on", async () => {
    const handler = new MeshService({ address: mesh.address, component: "broken-queries" });
    handler.addQueries({
      service: TodoListQueryServiceService,
      handlers: {
        getTodoList: async (request) =>
          request.listId === "bad" ? ({ listId: "bad", items: null } as unknown as TodoListView) : TodoListView.fromPartial({ listId: request.listId, name: "ok" }),
        listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
        watchTodoList: async () => undefined,
      },
    });
    await handler.start();
    try {
      const error = await failure(call(clients.queries, clients.queries.getTodoList, { listId: "bad" }));
      assert.equal(error.code, status.INTERNAL);
      const fine = await call(clients.queries, clients.queries.getTodoList, { listId: "good" });
      assert.equal(fine.name, "ok");
    } finally {
      await closeHandlers(mesh.gateway, [handler]);
    }
  });

  it("fails only the dispatch that exceeds a handler's message limit, with RESOURCE_EXHAUSTED", async () => {
    const todo = new MeshService({ address: mesh.address, component: "small", maxMessageBytes: 2048 });
    todo.addAggregate(todoListAggregate);
    await todo.start();
    try {
      await call(clients.commands, clients.commands.createTodoList, { listId: "small", name: "Small" });
      const error = await failure(call(clients.commands, clients.commands.addTodoItem, { listId: "small", itemId: "big", text: "x".repeat(3000) }));
      assert.equal(error.code, status.RESOURCE_EXHAUSTED);
      assert.equal(reasonOf(error), "MESSAGE_TOO_LARGE");
      const ack = await call(clients.commands, clients.commands.addTodoItem, { listId: "small", itemId: "ok", text: "fits" });
      assert.equal(ack.sequence, "2", "the link lives on");
    } finally {
      await closeHandlers(mesh.gateway, [todo]);
    }
  });

  it("ends a subscription whose caller reads slower than answers come, with RESOURCE_EXHAUSTED", async () => {
    const handler = new MeshService({ address: mesh.address, component: "firehose" });
    let handlerStopped = false;
    let session: http2.ClientHttp2Session | undefined;
    handler.addQueries({
      service: TodoListQueryServiceService,
      handlers: {
        getTodoList: async (request) => TodoListView.fromPartial({ listId: request.listId }),
        listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
        watchTodoList: async (request, context) => {
          const view = TodoListView.fromPartial({ listId: request.listId, name: "x".repeat(64 * 1024) });
          while (!context.signal.aborted) {
            context.emit(view);
            await new Promise((r) => setImmediate(r));
          }
          handlerStopped = true;
        },
      },
    });
    await handler.start();
    try {
      // A caller that never reads: a bare HTTP/2 stream, paused, so flow control stops the gateway's writes.
      session = http2.connect(`http://${mesh.address}`);
      const request = WatchTodoList.encode({ listId: "firehose" }).finish();
      const frame = Buffer.alloc(5 + request.length);
      frame.writeUInt32BE(request.length, 1);
      frame.set(request, 5);
      const stream = session.request({ ":method": "POST", ":path": "/todo.v1.TodoListQueryService/WatchTodoList", "content-type": "application/grpc", te: "trailers" });
      stream.end(frame);
      stream.pause();
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on("trailers", resolve));
      // The gateway gives up on the caller and stops the handler; the status waits behind the data, so the
      // caller sees it once it reads again.
      await eventually(async () => assert.ok(handlerStopped, "the handler was told to stop"));
      stream.on("data", () => undefined);
      stream.resume();
      assert.equal(Number((await trailers)["grpc-status"]), status.RESOURCE_EXHAUSTED);
    } finally {
      // Whatever happened, the bare session must not keep the test process alive.
      session?.destroy();
      await closeHandlers(mesh.gateway, [handler]);
    }
  }, 60_000);

  it("ends a slow caller's subscription past RECQ_MAX_BUFFERED_ANSWER_BYTES, and one that took nothing for RECQ_MAX_UNREAD_MS", async () => {
    // Two gateways, one limit each: 64 KiB views against a 256 KiB byte bound (the count bound far away), and a
    // 300 ms unread bound with the others far away.
    const cases = [
      { limits: { maxBufferedAnswers: 1_000, maxBufferedAnswerBytes: 256 * 1024, maxUnreadMs: 60_000 }, expected: /limits are 1000 answers and 262144 bytes/ },
      { limits: { maxBufferedAnswers: 1_000, maxBufferedAnswerBytes: 64 * 1024 * 1024, maxUnreadMs: 300 }, expected: /has taken no answer for 300 ms/ },
    ];
    for (const { limits, expected } of cases) {
      const dir = await tempDir("backlog");
      const other = await startGateway(dir.dir, { limits });
      const handler = new MeshService({ address: other.address, component: "firehose" });
      let handlerStopped = false;
      let session: http2.ClientHttp2Session | undefined;
      handler.addQueries({
        service: TodoListQueryServiceService,
        handlers: {
          getTodoList: async (request) => TodoListView.fromPartial({ listId: request.listId }),
          listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
          watchTodoList: async (request, context) => {
            const view = TodoListView.fromPartial({ listId: request.listId, name: "x".repeat(64 * 1024) });
            while (!context.signal.aborted) {
              context.emit(view);
              await new Promise((r) => setTimeout(r, 20));
            }
            handlerStopped = true;
          },
        },
      });
      await handler.start();
      try {
        session = http2.connect(`http://${other.address}`);
        const request = WatchTodoList.encode({ listId: "firehose" }).finish();
        const frame = Buffer.alloc(5 + request.length);
        frame.writeUInt32BE(request.length, 1);
        frame.set(request, 5);
        const stream = session.request({ ":method": "POST", ":path": "/todo.v1.TodoListQueryService/WatchTodoList", "content-type": "application/grpc", te: "trailers" });
        stream.end(frame);
        stream.pause();
        const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on("trailers", resolve));
        await eventually(async () => assert.ok(handlerStopped, "the handler was told to stop"), 10_000);
        stream.on("data", () => undefined);
        stream.resume();
        const ended = await trailers;
        assert.equal(Number(ended["grpc-status"]), status.RESOURCE_EXHAUSTED);
        assert.match(decodeURIComponent(String(ended["grpc-message"])), expected);
      } finally {
        session?.destroy();
        await closeHandlers(other.gateway, [handler]);
        await other.gateway.stop();
        await dir.remove();
      }
    }
  }, 60_000);

  it("ends a subscription that is still answering when its deadline passes with DEADLINE_EXCEEDED, and stops the handler", async () => {
    const handler = new MeshService({ address: mesh.address, component: "ticker" });
    let handlerStopped = false;
    handler.addQueries({
      service: TodoListQueryServiceService,
      handlers: {
        getTodoList: async (request) => TodoListView.fromPartial({ listId: request.listId, name: "ok" }),
        listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
        watchTodoList: async (request, context) => {
          for (let version = 1; !context.signal.aborted; version++) {
            context.emit(TodoListView.fromPartial({ listId: request.listId, version: String(version) }));
            await new Promise((r) => setTimeout(r, 5));
          }
          handlerStopped = true;
        },
      },
    });
    await handler.start();
    const session = http2.connect(`http://${mesh.address}`);
    try {
      const request = WatchTodoList.encode({ listId: "ticking" }).finish();
      const frame = Buffer.alloc(5 + request.length);
      frame.writeUInt32BE(request.length, 1);
      frame.set(request, 5);
      const stream = session.request({
        ":method": "POST",
        ":path": "/todo.v1.TodoListQueryService/WatchTodoList",
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": "300m",
      });
      stream.end(frame);
      let bytes = 0;
      stream.on("data", (chunk: Buffer) => (bytes += chunk.length));
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on("trailers", resolve));
      assert.equal(Number(trailers["grpc-status"]), status.DEADLINE_EXCEEDED);
      assert.ok(bytes > 0, "answers came before the deadline");
      await eventually(async () => assert.ok(handlerStopped, "the handler was told to stop"));
      const fine = await call(clients.queries, clients.queries.getTodoList, { listId: "after" });
      assert.equal(fine.name, "ok", "the gateway serves on");
    } finally {
      session.destroy();
      await closeHandlers(mesh.gateway, [handler]);
    }
  });

  it("answers INTERNAL / INVALID_HANDLER_REPLY when the store refuses what the handler decided, and stores nothing", async () => {
    const handler = new MeshService({ address: mesh.address, component: "chatty" });
    handler.addAggregate({
      ...todoListAggregate,
      decide: {
        ...todoListAggregate.decide,
        // More events than one command may append (the store's limit, 1,000 by default).
        createTodoList: (command) => Array.from({ length: 1001 }, () => ({ type: "todo.v1.TodoListCreated" as const, data: { listId: command.listId, name: command.name } })),
      },
    });
    await handler.start();
    try {
      const error = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "chatty", name: "C" }));
      assert.equal(error.code, status.INTERNAL);
      assert.equal(reasonOf(error), "INVALID_HANDLER_REPLY");
      assert.equal((await mesh.store.readAggregate("TodoList", "chatty")).sequence, 0);
    } finally {
      await closeHandlers(mesh.gateway, [handler]);
    }
  });

  it("refuses events that are not valid messages of their type, or of no type it knows, and stores nothing", async () => {
    // A handler whose TodoListCreated codec writes bytes that are no TodoListCreated (a length past the end).
    const poison = { encode: () => ({ finish: () => Buffer.from("0affffffff0f", "hex") }), decode: () => ({ listId: "", name: "" }) };
    const unknown = { encode: () => ({ finish: () => Buffer.alloc(0) }), decode: () => ({}) };
    const handler = new MeshService({ address: mesh.address, component: "poisoner" });
    handler.addAggregate({
      ...todoListAggregate,
      events: { ...todoListAggregate.events, "todo.v1.TodoListCreated": poison, "todo.v1.NoSuchEvent": unknown },
      decide: {
        ...todoListAggregate.decide,
        renameTodoList: () => [{ type: "todo.v1.NoSuchEvent" as const, data: {} }],
      },
    } as unknown as typeof todoListAggregate); // a handler that breaks the contract on purpose: its codecs lie
    await handler.start();
    const headBefore = await mesh.store.headPosition();
    try {
      const bad = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "poisoned", name: "P" }));
      assert.equal(bad.code, status.INTERNAL);
      assert.equal(reasonOf(bad), "INVALID_HANDLER_REPLY");
      assert.match(bad.details, /event 0 is not a valid todo\.v1\.TodoListCreated/);
      const stranger = await failure(call(clients.commands, clients.commands.renameTodoList, { listId: "poisoned", name: "Q" }));
      assert.equal(reasonOf(stranger), "INVALID_HANDLER_REPLY");
      assert.match(stranger.details, /event 0 has type "todo\.v1\.NoSuchEvent", which is no message of the gateway's descriptor sets/);
      assert.equal((await mesh.store.readAggregate("TodoList", "poisoned")).sequence, 0);
      assert.equal(await mesh.store.headPosition(), headBefore, "nothing was stored");
    } finally {
      await closeHandlers(mesh.gateway, [handler]);
    }
  });

  it("refuses calls over a link past RECQ_MAX_CALLS_PER_LINK, and closes a link that never says hello", async () => {
    const dir = await tempDir("link-limits");
    const other = await startGateway(dir.dir, { limits: { maxCallsPerLink: 1, heartbeatIntervalMs: 200 } });
    const slow = await startHangingQueries(other.address, "slow");
    const caller = new MeshService({ address: other.address, component: "caller" });
    await caller.start();
    const silent = new HandlerLinkServiceClient(other.address, credentials.createInsecure());
    try {
      void caller.call(TodoListQueryServiceService.getTodoList, { listId: "held" }, { timeoutMs: 5_000 }).catch(() => undefined);
      const refused = await caller.call(TodoListQueryServiceService.getTodoList, { listId: "second" }).catch((e: unknown) => e);
      assert.ok(refused instanceof MeshError);
      assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
      const stream = silent.connect();
      const ended = await new Promise<ServiceError>((resolve) => stream.on("error", resolve));
      assert.equal(ended.code, status.FAILED_PRECONDITION);
      assert.match(ended.details, /no hello within 200 ms/);
    } finally {
      silent.close();
      await closeHandlers(other.gateway, [slow, caller]);
      await other.gateway.stop();
      await dir.remove();
    }
  });
});
