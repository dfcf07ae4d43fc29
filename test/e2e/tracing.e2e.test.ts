import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { MeshService } from "@recq-mesh/kit";
import { RPC_GRPC_STATUS_CODE, RPC_METHOD, RPC_SERVICE, RPC_SYSTEM, SpanName } from "@recq-mesh/protocol";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoListQueryServiceService } from "@recq-mesh/todo/gen/todo/v1/queries";
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
import { memorySpans, parentOf } from "../support/tracing";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const CREATE = "todo.v1.TodoListCommandService/CreateTodoList";
const GET = "todo.v1.TodoListQueryService/GetTodoList";

/** A trace id of its own for each test's call, so that one test's spans never stand in for another's. */
function traceIdOf(n: number): string {
  return `${n.toString(16).padStart(4, "0")}${TRACE_ID.slice(4)}`;
}

function inTrace(spans: ReadableSpan[], traceId: string): ReadableSpan[] {
  return spans.filter((s) => s.spanContext().traceId === traceId);
}

function named(name: string, trace: ReadableSpan[]): ReadableSpan {
  const span = trace.find((s) => s.name === name);
  assert.ok(span, `a ${name} span in ${trace.map((s) => s.name).join(", ")}`);
  return span;
}

/**
 * The three spans of one call of `method` through the gateway, all named after it: the gateway's server span
 * (a child of `parent`), its dispatch (a CLIENT span, the server span's child) and the handler's server span (the
 * dispatch's child, across the link).
 */
function callSpans(method: string, trace: ReadableSpan[], parent: string) {
  const ofMethod = trace.filter((s) => s.name === method);
  const servers = ofMethod.filter((s) => s.kind === SpanKind.SERVER);
  const clients = ofMethod.filter((s) => s.kind === SpanKind.CLIENT);
  const listed = ofMethod.map((s) => `${SpanKind[s.kind]} ${s.spanContext().spanId} ← ${parentOf(s)}`).join(", ");
  const receive = servers.find((s) => parentOf(s) === parent);
  assert.ok(receive, `the gateway's server span of ${method}, a child of ${parent}, in ${listed}`);
  assert.equal(clients.length, 1, `one dispatch (CLIENT) span of ${method} in ${listed}`);
  const dispatch = clients[0]!;
  assert.equal(parentOf(dispatch), receive.spanContext().spanId, "the dispatch is a child of the gateway's server span");
  const handles = servers.filter((s) => parentOf(s) === dispatch.spanContext().spanId);
  assert.equal(handles.length, 1, `one handler span of ${method}, the dispatch's child across the link, in ${listed}`);
  return { receive, dispatch, handle: handles[0]! };
}

function assertRpcIdentity(span: ReadableSpan, method: string): void {
  const slash = method.lastIndexOf("/");
  assert.equal(span.attributes[RPC_SYSTEM], "grpc", `${SpanKind[span.kind]} ${span.name}: rpc.system`);
  assert.equal(span.attributes[RPC_SERVICE], method.slice(0, slash), `${SpanKind[span.kind]} ${span.name}: rpc.service`);
  assert.equal(span.attributes[RPC_METHOD], method.slice(slash + 1), `${SpanKind[span.kind]} ${span.name}: rpc.method`);
}

function assertRpcOutcome(span: ReadableSpan, method: string, code: number): void {
  assertRpcIdentity(span, method);
  assert.equal(span.attributes[RPC_GRPC_STATUS_CODE], code, `${SpanKind[span.kind]} ${span.name}: rpc.grpc.status_code`);
}

describe("tracing", () => {
  const spans = memorySpans();
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let clients: ReturnType<typeof todoClients>;

  beforeAll(async () => {
    data = await tempDir("tracing");
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

  it("traces a command from the caller through gateway, handler and append, and the projection back to it", async () => {
    spans.reset();
    const traceparent = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;
    const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "traced", name: "Traced" }, { traceparent });
    await eventually(async () => assert.ok(spans.getFinishedSpans().some((s) => s.name === SpanName.VIEW_WRITE)));
    const trace = inTrace(spans.getFinishedSpans(), TRACE_ID);

    // The gateway continues the caller's trace; the handler's span is a child of the dispatch, across the link.
    const { receive, dispatch, handle } = callSpans(CREATE, trace, CLIENT_SPAN);
    const append = named(SpanName.EVENT_APPEND, trace);
    const apply = named(SpanName.PROJECTOR_APPLY, trace);
    const write = named(SpanName.VIEW_WRITE, trace);
    assert.equal(parentOf(append), receive.spanContext().spanId);
    assert.equal(parentOf(apply), receive.spanContext().spanId, "the projector's apply hangs off the command, through the stored event");
    assert.equal(parentOf(write), apply.spanContext().spanId);
    assert.equal(append.attributes["recq.position"], Number(ack.position));
    // What is the mesh's own stays under recq.*.
    assert.equal(dispatch.attributes["recq.component"], "todo");
    assert.equal(handle.attributes["recq.aggregate_id"], "traced");
  });

  it("traces a query through the gateway and the handler to the view read", async () => {
    const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "read", name: "Read" });
    spans.reset();
    const traceId = traceIdOf(0x5bf9);
    await call(clients.queries, clients.queries.getTodoList, { listId: "read" }, { traceparent: `00-${traceId}-${CLIENT_SPAN}-01`, "recq-consistency-token": ack.position });
    const trace = inTrace(spans.getFinishedSpans(), traceId);
    const { receive, handle } = callSpans(GET, trace, CLIENT_SPAN);
    const read = named(SpanName.VIEW_READ, trace);
    assert.equal(parentOf(read), handle.spanContext().spanId);
    assert.equal(read.attributes["recq.view.collection"], "todo_lists");
    assertRpcIdentity(receive, GET);
  });

  it("gives every RPC span the conventions' identity and status code 0 when the call succeeds", async () => {
    spans.reset();
    const commandTrace = traceIdOf(1);
    const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "conventions", name: "C" }, { traceparent: `00-${commandTrace}-${CLIENT_SPAN}-01` });
    const queryTrace = traceIdOf(2);
    // Read with the ack's consistency token: the view may not hold the list yet otherwise.
    const readYourWrite = { traceparent: `00-${queryTrace}-${CLIENT_SPAN}-01`, "recq-consistency-token": ack.position };
    await call(clients.queries, clients.queries.getTodoList, { listId: "conventions" }, readYourWrite);
    for (const [method, traceId] of [
      [CREATE, commandTrace],
      [GET, queryTrace],
    ] as const) {
      const { receive, dispatch, handle } = callSpans(method, inTrace(spans.getFinishedSpans(), traceId), CLIENT_SPAN);
      for (const span of [receive, dispatch, handle]) assertRpcOutcome(span, method, status.OK);
    }
  });

  it("records the refusal's status code on the server span, whether the handler or the gateway refused", async () => {
    await call(clients.commands, clients.commands.createTodoList, { listId: "twice", name: "Once" });
    spans.reset();
    const ruleTrace = traceIdOf(3);
    const rule = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "twice", name: "Twice" }, { traceparent: `00-${ruleTrace}-${CLIENT_SPAN}-01` }));
    assert.equal(rule.code, status.ALREADY_EXISTS);
    const { receive, dispatch, handle } = callSpans(CREATE, inTrace(spans.getFinishedSpans(), ruleTrace), CLIENT_SPAN);
    for (const span of [receive, dispatch, handle]) assertRpcOutcome(span, CREATE, status.ALREADY_EXISTS);

    // Refused by the gateway before any dispatch: only its server span, with the code the caller got.
    const keyTrace = traceIdOf(4);
    const missingKey = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "", name: "X" }, { traceparent: `00-${keyTrace}-${CLIENT_SPAN}-01` }));
    assert.equal(missingKey.code, status.INVALID_ARGUMENT);
    const refused = inTrace(spans.getFinishedSpans(), keyTrace);
    assert.deepEqual(
      refused.map((s) => [s.name, s.kind]),
      [[CREATE, SpanKind.SERVER]],
    );
    assertRpcOutcome(refused[0]!, CREATE, status.INVALID_ARGUMENT);
  });

  it("gives a call over a link the gateway's server span, a child of the calling handler's span", async () => {
    const dir = await tempDir("tracing-link");
    const other = await startGateway(dir.dir);
    const commands = await startTodo(other.address, { roles: ["commands"] });
    // A query handler that answers by sending a command through its own link, from inside its handler span.
    const relay = new MeshService({ address: other.address, component: "relay" });
    relay.addQueries({
      service: TodoListQueryServiceService,
      handlers: {
        getTodoList: async ({ listId }) => {
          await relay.call(TodoListCommandServiceService.createTodoList, { listId, name: "Relayed" });
          return { listId, name: "Relayed", items: [], itemCount: 0, completedCount: 0, version: "1", deleted: false };
        },
        listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
        watchTodoList: async () => undefined,
      },
    });
    await relay.start();
    const relayClients = todoClients(other.address);
    try {
      spans.reset();
      const traceId = traceIdOf(6);
      await call(relayClients.queries, relayClients.queries.getTodoList, { listId: "relayed" }, { traceparent: `00-${traceId}-${CLIENT_SPAN}-01` });
      const trace = inTrace(spans.getFinishedSpans(), traceId);
      const query = callSpans(GET, trace, CLIENT_SPAN);
      // The command the handler sent: the gateway's server span under the relay's handler span, then as any call.
      const command = callSpans(CREATE, trace, query.handle.spanContext().spanId);
      for (const span of [command.receive, command.dispatch, command.handle]) assertRpcOutcome(span, CREATE, status.OK);
    } finally {
      relayClients.close();
      await closeHandlers(other.gateway, [relay, commands.mesh]);
      await other.gateway.stop();
      await dir.remove();
    }
  });

  it("gives a call refused by admission its server span, with the refusal's code", async () => {
    const dir = await tempDir("tracing-admission");
    const other = await startGateway(dir.dir, { limits: { maxCallsInFlight: 1 } });
    const hanging = await startHangingQueries(other.address, "hanging");
    const otherClients = todoClients(other.address);
    try {
      const held = call(otherClients.queries, otherClients.queries.getTodoList, { listId: "held" }, {}, 2_000).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      spans.reset();
      const traceId = traceIdOf(7);
      const refused = await failure(call(otherClients.queries, otherClients.queries.getTodoList, { listId: "refused" }, { traceparent: `00-${traceId}-${CLIENT_SPAN}-01` }));
      assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
      const trace = inTrace(spans.getFinishedSpans(), traceId);
      assert.deepEqual(
        trace.map((s) => [s.name, s.kind, parentOf(s)]),
        [[GET, SpanKind.SERVER, CLIENT_SPAN]],
      );
      assertRpcOutcome(trace[0]!, GET, status.RESOURCE_EXHAUSTED);
      await held;
    } finally {
      otherClients.close();
      await closeHandlers(other.gateway, [hanging]);
      await other.gateway.stop();
      await dir.remove();
    }
  });
});
