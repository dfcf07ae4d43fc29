import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { context, trace } from "@opentelemetry/api";
import { SpanName } from "@recq-mesh/protocol";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { memorySpans, parentOf } from "../support/tracing";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";

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

  function named(name: string, trace: ReadableSpan[]): ReadableSpan {
    const span = trace.find((s) => s.name === name);
    assert.ok(span, `a ${name} span in ${trace.map((s) => s.name).join(", ")}`);
    return span;
  }

  it("traces a command from the caller through gateway, handler and append, and the projection back to it", async () => {
    spans.reset();
    const traceparent = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;
    const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "traced", name: "Traced" }, { traceparent });
    await eventually(async () => assert.ok(spans.getFinishedSpans().some((s) => s.name === SpanName.VIEW_WRITE)));
    const trace = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID);

    const receive = named(SpanName.GATEWAY_RECEIVE, trace);
    const dispatch = named(SpanName.GATEWAY_DISPATCH, trace);
    const handle = named(SpanName.HANDLER_HANDLE, trace);
    const append = named(SpanName.EVENT_APPEND, trace);
    const apply = named(SpanName.PROJECTOR_APPLY, trace);
    const write = named(SpanName.VIEW_WRITE, trace);
    assert.equal(parentOf(receive), CLIENT_SPAN, "the gateway continues the caller's trace");
    assert.equal(parentOf(dispatch), receive.spanContext().spanId);
    assert.equal(parentOf(handle), dispatch.spanContext().spanId, "the handler's span is a child of the dispatch, across the link");
    assert.equal(parentOf(append), receive.spanContext().spanId);
    assert.equal(parentOf(apply), receive.spanContext().spanId, "the projector's apply hangs off the command, through the stored event");
    assert.equal(parentOf(write), apply.spanContext().spanId);
    assert.equal(append.attributes["recq.position"], Number(ack.position));
  });

  it("traces a query through the gateway and the handler to the view read", async () => {
    const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "read", name: "Read" });
    spans.reset();
    const traceparent = `00-${TRACE_ID.replace("4bf9", "5bf9")}-${CLIENT_SPAN}-01`;
    await call(clients.queries, clients.queries.getTodoList, { listId: "read" }, { traceparent, "recq-consistency-token": ack.position });
    const trace = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID.replace("4bf9", "5bf9"));
    const receive = named(SpanName.GATEWAY_RECEIVE, trace);
    const dispatch = named(SpanName.GATEWAY_DISPATCH, trace);
    const handle = named(SpanName.HANDLER_HANDLE, trace);
    assert.equal(parentOf(dispatch), receive.spanContext().spanId);
    assert.equal(parentOf(handle), dispatch.spanContext().spanId);
    const read = named(SpanName.VIEW_READ, trace);
    assert.equal(parentOf(read), handle.spanContext().spanId);
    assert.equal(read.attributes["recq.view.collection"], "todo_lists");
    assert.equal(receive.attributes["recq.method"], "todo.v1.TodoListQueryService/GetTodoList");
  });

  it("continues the trace of a call a handler sends over its link, from the Call frame's metadata", async () => {
    spans.reset();
    // The kit puts the active trace context into the Call frame's metadata; the gateway reads it from there.
    const caller = trace.getTracer("recq-test").startSpan("test.caller");
    await context.with(trace.setSpan(context.active(), caller), () =>
      todo.mesh.call(TodoListCommandServiceService.createTodoList, { listId: "linked", name: "Linked" }),
    );
    caller.end();
    const { traceId, spanId } = caller.spanContext();
    await eventually(async () => assert.ok(spans.getFinishedSpans().some((s) => s.name === SpanName.PROJECTOR_APPLY && s.spanContext().traceId === traceId)));
    const inTrace = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const dispatch = named(SpanName.GATEWAY_DISPATCH, inTrace);
    const append = named(SpanName.EVENT_APPEND, inTrace);
    assert.equal(parentOf(dispatch), spanId, "the gateway's dispatch continues the calling handler's span");
    assert.equal(parentOf(append), spanId);
    assert.equal(parentOf(named(SpanName.HANDLER_HANDLE, inTrace)), dispatch.spanContext().spanId);
  });
});
