import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status, type ServiceError } from "@grpc/grpc-js";
import { Invoker, MeshError, MeshService, silentLogger, timeOrderedId } from "@recq-mesh/kit";
import { CertificateFiles } from "@recq-mesh/gateway/internal/security/certificate-files";
import { CreateTodoList, TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { ListTodoLists, TodoListQueryServiceService, type TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { TodoAttachmentQueryServiceService } from "@recq-mesh/todo/gen/todo/v1/attachments";
import {
  call,
  closeHandlers,
  eventually,
  failure,
  startGateway,
  startHangingQueries,
  startTodo,
  tempDir,
  todoClients,
  type RunningGateway,
  type RunningTodo,
} from "../support/mesh-harness";
import { issueCertificate, makeCa } from "../support/test-certificates";
import { memorySpans } from "../support/tracing";
import { trace } from "@opentelemetry/api";

/** Its failure, as a MeshError: the invoker's calls must fail with one. */
async function meshFailure(promise: Promise<unknown>): Promise<MeshError> {
  const error = await promise.then(
    () => assert.fail("the call succeeded, but it should have failed"),
    (thrown: unknown) => thrown,
  );
  assert.ok(error instanceof MeshError, `a MeshError, not ${String(error)}`);
  return error;
}

/** Status, message and recq-reason, as a generated grpc-js client sees them. */
function asCallerSees(error: ServiceError): { code: number; message: string; reason: unknown } {
  return { code: error.code, message: error.details, reason: error.metadata.get("recq-reason")[0] };
}

const seen = (error: MeshError) => ({ code: error.code, message: error.message, reason: error.reason });

async function collect<T>(answers: AsyncIterable<T>, count: number): Promise<T[]> {
  const got: T[] = [];
  for await (const answer of answers) {
    got.push(answer);
    if (got.length === count) break;
  }
  return got;
}

describe("the Invoker over a gateway client", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let invoker: Invoker;

  beforeAll(async () => {
    data = await tempDir("invoker");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    invoker = Invoker.forGateway({ address: mesh.address });
  });

  afterAll(async () => {
    invoker.close();
    await closeHandlers(mesh.gateway, [todo.mesh]);
    await mesh.gateway.stop();
    await data.remove();
  });

  it("sends typed commands and reads its own write with the ack's consistency token", async () => {
    const commands = invoker.service(TodoListCommandServiceService);
    const queries = invoker.service(TodoListQueryServiceService);
    const listId = timeOrderedId();
    const created = await commands.createTodoList({ listId, name: "Groceries" }, { commandId: `create-${listId}` });
    assert.equal(created.commandId, `create-${listId}`);
    const added = await commands.addTodoItem({ listId, itemId: "milk", text: "Milk" });
    // Read-your-writes: without the token this read could reach the view before the projector.
    const view = await queries.getTodoList({ listId }, { consistencyToken: added.position });
    assert.equal(view.name, "Groceries");
    assert.deepEqual(view.items.map((item) => item.text), ["Milk"]);
    const page = await queries.listTodoLists(ListTodoLists.fromPartial({ nameContains: "Groceries" }), { consistencyToken: added.position });
    assert.deepEqual(page.lists.map((list) => list.listId), [listId]);
    const repeated = await commands.createTodoList({ listId, name: "Groceries" }, { commandId: `create-${listId}` });
    assert.deepEqual(repeated, created, "the same command id answers the first outcome");
  });

  it("fails with the status, message and recq-reason a generated client gets", async () => {
    const commands = invoker.service(TodoListCommandServiceService);
    const clients = todoClients(mesh.address);
    try {
      await commands.createTodoList({ listId: "twice", name: "Twice" });
      for (const request of [CreateTodoList.fromPartial({ listId: "twice", name: "Again" }), CreateTodoList.fromPartial({ listId: "", name: "No key" })]) {
        const ours = await meshFailure(commands.createTodoList(request));
        const theirs = await failure(call(clients.commands, clients.commands.createTodoList, request));
        assert.deepEqual(seen(ours), asCallerSees(theirs));
      }
      const domain = await meshFailure(commands.createTodoList({ listId: "twice", name: "Again" }));
      assert.deepEqual([domain.code, domain.reason], [status.ALREADY_EXISTS, "DOMAIN_RULE"]);
      // No handler serves the attachment queries here: a subscription fails with UNAVAILABLE, NO_HANDLER.
      const download = invoker.service(TodoAttachmentQueryServiceService).downloadAttachment({ listId: "twice", itemId: "x", reference: "r" });
      const missing = await meshFailure(collect(download, 1));
      assert.deepEqual([missing.code, missing.reason], [status.UNAVAILABLE, "NO_HANDLER"]);
      assert.match(missing.message, /DownloadAttachment/);
    } finally {
      clients.close();
    }
  });

  it("sends an accepted command (recq-mode: async): acknowledged at once, executed later", async () => {
    const listId = timeOrderedId();
    const ack = await invoker.call(TodoListCommandServiceService.createTodoList, { listId, name: "Later" }, { mode: "async", commandId: `accept-${listId}` });
    assert.equal(ack.commandId, `accept-${listId}`);
    assert.equal(ack.position, "0", "an accepted command's ack carries no position");
    const view = await eventually(() => invoker.call(TodoListQueryServiceService.getTodoList, { listId }));
    assert.equal(view.name, "Later");
  });

  it("streams a query's answers until the loop breaks, and ends a subscription when its signal aborts", async () => {
    const queries = invoker.service(TodoListQueryServiceService);
    const commands = invoker.service(TodoListCommandServiceService);
    const listId = timeOrderedId();
    const ack = await commands.createTodoList({ listId, name: "Watched" });
    const [first] = await collect(queries.watchTodoList({ listId }, { consistencyToken: ack.position }), 1);
    assert.equal(first?.name, "Watched");

    const stop = new AbortController();
    const views: TodoListView[] = [];
    const watching = (async () => {
      for await (const view of queries.watchTodoList({ listId }, { signal: stop.signal })) {
        views.push(view);
        if (views.length === 1) await commands.renameTodoList({ listId, name: "Renamed" });
      }
    })();
    await eventually(async () => assert.equal(views.length, 2));
    stop.abort();
    await watching; // ends without an error: the caller asked for it
    assert.deepEqual(views.map((view) => view.name), ["Watched", "Renamed"]);
  });

  it("carries the caller's trace context: the gateway's span of the call joins the caller's trace", async () => {
    const spans = memorySpans();
    const listId = timeOrderedId();
    const traceId = await trace.getTracer("invoker-test").startActiveSpan("web request", async (span) => {
      await invoker.call(TodoListCommandServiceService.createTodoList, { listId, name: "Traced" });
      span.end();
      return span.spanContext().traceId;
    });
    const served = spans.getFinishedSpans().filter((s) => s.name === "todo.v1.TodoListCommandService/CreateTodoList" && s.spanContext().traceId === traceId);
    assert.ok(served.length > 0, "the gateway's spans of the call are in the caller's trace");
  });

  it("fails a subscription with the caller's status: a list that does not exist", async () => {
    const error = await meshFailure(collect(invoker.stream(TodoListQueryServiceService.watchTodoList, { listId: "nowhere" }), 1));
    assert.equal(error.code, status.NOT_FOUND);
  });

  it("refuses a method of the wrong shape with a clear error", async () => {
    const error = await meshFailure(invoker.call(TodoListQueryServiceService.watchTodoList as never, { listId: "x" } as never));
    assert.equal(error.code, status.UNIMPLEMENTED);
    assert.match(error.message, /server-streaming query: Invoker.call does not take it; use stream\(\)/);
  });

  it("fails UNAVAILABLE with no handler linked, ends a call with CANCELLED when its signal aborts, and with DEADLINE_EXCEEDED past its timeout", async () => {
    const dir = await tempDir("invoker-deadline");
    const other = await startGateway(dir.dir);
    const impatient = Invoker.forGateway({ address: other.address });
    const unserved = await meshFailure(impatient.call(TodoListQueryServiceService.getTodoList, { listId: "x" }));
    assert.deepEqual([unserved.code, unserved.reason], [status.UNAVAILABLE, "NO_HANDLER"]);
    const slow = await startHangingQueries(other.address, "slow-queries");
    try {
      const late = await meshFailure(impatient.call(TodoListQueryServiceService.getTodoList, { listId: "x" }, { timeoutMs: 200 }));
      assert.equal(late.code, status.DEADLINE_EXCEEDED);
      const stop = new AbortController();
      const pending = impatient.call(TodoListQueryServiceService.getTodoList, { listId: "x" }, { signal: stop.signal });
      setTimeout(() => stop.abort(), 100);
      const cancelled = await meshFailure(pending);
      assert.equal(cancelled.code, status.CANCELLED);
    } finally {
      impatient.close();
      await closeHandlers(other.gateway, [slow]);
      await other.gateway.stop();
      await dir.remove();
    }
  });
});

describe("the Invoker over a service's own link", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let service: MeshService;
  let invoker: Invoker;

  beforeAll(async () => {
    data = await tempDir("invoker-link");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    service = new MeshService({ address: mesh.address, component: "caller" });
    await service.start();
    invoker = Invoker.overLink(service);
  });

  afterAll(async () => {
    invoker.close();
    await closeHandlers(mesh.gateway, [service, todo.mesh]);
    await mesh.gateway.stop();
    await data.remove();
  });

  it("sends commands and queries through the link, and reads its own write with the consistency token", async () => {
    const listId = timeOrderedId();
    const ack = await invoker.service(TodoListCommandServiceService).createTodoList({ listId, name: "Linked" }, { commandId: `link-${listId}` });
    assert.equal(ack.commandId, `link-${listId}`);
    const view = await invoker.service(TodoListQueryServiceService).getTodoList({ listId }, { consistencyToken: ack.position });
    assert.equal(view.name, "Linked");
    assert.equal(mesh.gateway.handlerLinkCount, 2, "no connection of its own: the service's link and the TodoList's");
  });

  it("fails with the caller's status and reason", async () => {
    const commands = invoker.service(TodoListCommandServiceService);
    await commands.createTodoList({ listId: "linked-twice", name: "Once" });
    const again = await meshFailure(commands.createTodoList({ listId: "linked-twice", name: "Twice" }));
    assert.deepEqual([again.code, again.reason], [status.ALREADY_EXISTS, "DOMAIN_RULE"]);
    assert.match(again.message, /linked-twice already exists/);
  });

  it("refuses, with a clear error, what a link does not carry: a subscription, an accepted command", async () => {
    const watch = await meshFailure(collect(invoker.service(TodoListQueryServiceService).watchTodoList({ listId: "x" }), 1));
    assert.equal(watch.code, status.UNIMPLEMENTED);
    assert.match(watch.message, /WatchTodoList is a server-streaming query: a service's link does not carry it; use an Invoker on a gateway client/);
    const accepted = await meshFailure(invoker.service(TodoListCommandServiceService).createTodoList({ listId: "x", name: "x" }, { mode: "async" }));
    assert.equal(accepted.code, status.UNIMPLEMENTED);
    assert.match(accepted.message, /accepted command/);
  });
});

describe("the Invoker's credentials: a bearer token, TLS and mTLS", () => {
  it("sends the caller's bearer token, a string or a function read at each call", async () => {
    const data = await tempDir("invoker-token");
    const mesh = await startGateway(data.dir, { clientToken: "caller-secret" });
    const todo = await startTodo(mesh.address);
    const anonymous = Invoker.forGateway({ address: mesh.address });
    const withToken = Invoker.forGateway({ address: mesh.address, token: "caller-secret" });
    let reads = 0;
    const withFunction = Invoker.forGateway({ address: mesh.address, token: async () => (reads++, "caller-secret") });
    try {
      const refused = await meshFailure(anonymous.call(TodoListCommandServiceService.createTodoList, { listId: "guarded", name: "Guarded" }));
      assert.deepEqual([refused.code, refused.reason], [status.UNAUTHENTICATED, "UNAUTHENTICATED"]);
      const ack = await withToken.call(TodoListCommandServiceService.createTodoList, { listId: "guarded", name: "Guarded" });
      const view = await withFunction.call(TodoListQueryServiceService.getTodoList, { listId: "guarded" }, { consistencyToken: ack.position });
      assert.equal(view.name, "Guarded");
      const [watched] = await collect(withFunction.stream(TodoListQueryServiceService.watchTodoList, { listId: "guarded" }), 1);
      assert.equal(watched?.name, "Guarded");
      assert.equal(reads, 2, "the token function is read at each call");
    } finally {
      for (const invoker of [anonymous, withToken, withFunction]) invoker.close();
      await closeHandlers(mesh.gateway, [todo.mesh]);
      await mesh.gateway.stop();
      await data.remove();
    }
  });

  it("calls a gateway that requires client certificates, with the certificate it is given", async () => {
    const data = await tempDir("invoker-mtls");
    const ca = makeCa(data.dir, "invoker-ca");
    const server = issueCertificate(ca, "gateway", "gateway", ["localhost"]);
    const client = issueCertificate(ca, "web", "web");
    const files = await CertificateFiles.open(
      { certificateFile: server.certificateFile, keyFile: server.keyFile, clientCaFile: ca.certificateFile, clientAuth: "required", refreshIntervalMs: 60_000 },
      silentLogger,
    );
    const mesh = await startGateway(data.dir, { credentials: files.serverCredentials() });
    const tls = { caFile: ca.certificateFile, serverName: "localhost" };
    const todo = await startTodo(mesh.address, { tls: { ...tls, certFile: client.certificateFile, keyFile: client.keyFile } });
    const withCertificate = Invoker.forGateway({ address: mesh.address, tls: { ...tls, certFile: client.certificateFile, keyFile: client.keyFile } });
    const without = Invoker.forGateway({ address: mesh.address, tls, channelOptions: { "grpc.use_local_subchannel_pool": 1 } });
    try {
      const ack = await withCertificate.call(TodoListCommandServiceService.createTodoList, { listId: "secure", name: "Secure" });
      assert.ok(Number(ack.position) > 0);
      const refused = await meshFailure(without.call(TodoListQueryServiceService.getTodoList, { listId: "secure" }, { timeoutMs: 3_000 }));
      assert.equal(refused.code, status.UNAVAILABLE);
    } finally {
      withCertificate.close();
      without.close();
      await closeHandlers(mesh.gateway, [todo.mesh]);
      await mesh.gateway.stop();
      files.close();
      await data.remove();
    }
  });
});
