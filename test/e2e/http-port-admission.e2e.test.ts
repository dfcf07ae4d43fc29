import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { SpanKind } from "@opentelemetry/api";
import { closeHandlers, eventually, startGateway, startHangingQueries, startTodo, tempDir, type RunningGateway } from "../support/mesh-harness";
import { memorySpans, parentOf } from "../support/tracing";
import type { MeshService } from "@recq-mesh/kit";

/**
 * The HTTP port admits calls as the gRPC port does (a unary call takes a slot of the adaptive limit, a stream a
 * subscription slot; overload is refused at once with OVERLOADED and a retry hint), and a `traceparent` header makes
 * the call's server span a child of the caller's.
 */

const spans = memorySpans();
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";

describe("the HTTP port's admission and tracing", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let base: string;
  const meshes: MeshService[] = [];

  beforeAll(async () => {
    data = await tempDir("http-admission");
    mesh = await startGateway(data.dir, {
      limits: { maxCallsInFlight: 1, minCallsInFlight: 1, maxSubscriptions: 1 },
      http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 10_000 },
    });
    base = `http://127.0.0.1:${mesh.gateway.http!.port}`;
  });

  afterAll(async () => {
    await closeHandlers(mesh.gateway, meshes);
    await mesh?.gateway.stop();
    await data?.remove();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body), signal });

  it("continues the caller's trace from its traceparent header", async () => {
    const todo = await startTodo(mesh.address);
    meshes.push(todo.mesh);
    spans.reset();
    const created = await post("/todo.v1.TodoListCommandService/CreateTodoList", { listId: "traced", name: "T" }, { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` });
    assert.equal(created.status, 200);
    const server = await eventually(async () => {
      const found = spans
        .getFinishedSpans()
        .find((s) => s.spanContext().traceId === TRACE_ID && s.kind === SpanKind.SERVER && s.name === "todo.v1.TodoListCommandService/CreateTodoList" && parentOf(s) === CLIENT_SPAN);
      assert.ok(found, "the gateway's server span of the call, a child of the caller's span");
      return found;
    });
    assert.equal(server.attributes["rpc.method"], "CreateTodoList");
    await closeHandlers(mesh.gateway, meshes);
  });

  it("ends a call at the caller's deadline (connect-timeout-ms) with deadline_exceeded, and gives its slot back", async () => {
    meshes.push(await startHangingQueries(mesh.address, "hanging"));
    for (let attempt = 0; attempt < 2; attempt++) {
      const late = await post("/todo.v1.TodoListQueryService/GetTodoList", { listId: "late" }, { "connect-timeout-ms": "200" });
      const body = (await late.json()) as { code: string };
      assert.equal(body.code, "deadline_exceeded");
      assert.equal(late.status, 504);
    }
    await closeHandlers(mesh.gateway, meshes);
  });

  it("refuses a unary call past the limit, and a stream past the subscriptions limit, with OVERLOADED", async () => {
    meshes.push(await startHangingQueries(mesh.address, "hanging"));
    const holding = new AbortController();
    const held = post("/todo.v1.TodoListQueryService/GetTodoList", { listId: "held" }, {}, holding.signal).catch(() => undefined);
    // The one slot is taken once the handler has the query: a call on another connection is refused at once.
    await eventually(async () => {
      const refused = await post("/todo.v1.TodoListQueryService/GetTodoList", { listId: "refused" });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get("recq-reason"), "OVERLOADED");
      assert.ok(Number(refused.headers.get("retry-after")) >= 1);
      assert.equal(((await refused.json()) as { code: string }).code, "resource_exhausted");
    });
    holding.abort();
    await held;
    await closeHandlers(mesh.gateway, meshes);

    const todo = await startTodo(mesh.address);
    meshes.push(todo.mesh);
    let position = "";
    for (const listId of ["one", "two", "three"]) {
      const created = await post("/todo.v1.TodoListCommandService/CreateTodoList", { listId, name: listId });
      assert.equal(created.status, 200);
      ({ position } = (await created.json()) as { position: string });
    }
    // With the last creation's position, a watch waits until the view holds the lists (else it may answer NOT_FOUND).
    const watch = (listId: string, signal?: AbortSignal) =>
      fetch(`${base}/recq/v1/sse/todo.v1.TodoListQueryService/WatchTodoList?message=${encodeURIComponent(JSON.stringify({ listId }))}&recq-consistency-token=${position}`, { signal });
    const open = new AbortController();
    const first = await watch("one", open.signal);
    assert.equal(first.status, 200);
    const second = await watch("two");
    assert.equal(second.status, 429);
    assert.equal(second.headers.get("recq-reason"), "OVERLOADED");
    open.abort();
    // The slot comes back when the stream ends.
    await eventually(async () => {
      const again = new AbortController();
      const third = await watch("three", again.signal);
      again.abort();
      assert.equal(third.status, 200);
    });
  });
});
