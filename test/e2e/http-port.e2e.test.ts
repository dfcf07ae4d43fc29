import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { create, toBinary, fromBinary, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { startGateway, startTodo, tempDir, testCatalog, eventually, type RunningGateway, type RunningTodo } from "../support/mesh-harness";

/**
 * The gateway's HTTP port (docs/web.md) against a real gateway on port 0 and the real TodoList handler: Connect
 * JSON and binary, GET on a query without side effects, gRPC-Web, HTTP/1.1 and HTTP/2, server streaming,
 * Server-Sent Events resumed with Last-Event-ID, 202 + Location, auth, the request limit, reasons, CORS, shutdown.
 */

const TOKEN = "http-secret";
const EVENTS_TOKEN = "http-events";
const ALLOWED = "http://allowed.example";
const MAX_REQUEST_BYTES = 120;
const registry = testCatalog().registry;
const commandService = registry.getService("todo.v1.TodoListCommandService")!;
const queryService = registry.getService("todo.v1.TodoListQueryService")!;

function message(typeName: string, init: Record<string, unknown>) {
  const schema = registry.getMessage(typeName)!;
  return { schema, value: create(schema as DescMessage, init as never) };
}

describe("the gateway's HTTP port", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let base: string;
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    data = await tempDir("http-port");
    mesh = await startGateway(data.dir, {
      clientToken: TOKEN,
      eventsToken: EVENTS_TOKEN,
      limits: { maxRequestBytes: MAX_REQUEST_BYTES },
      http: { address: "127.0.0.1:0", allowedOrigins: [ALLOWED], heartbeatMs: 100 },
    });
    todo = await startTodo(mesh.address, { credentials: undefined });
    base = `http://127.0.0.1:${mesh.gateway.http!.port}`;
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
    return fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...auth, ...headers }, body: JSON.stringify(body) });
  }

  /** Creates a list and answers the command's position, the consistency token a read of it needs. */
  async function createList(listId: string): Promise<string> {
    const response = await postJson("/todo.v1.TodoListCommandService/CreateTodoList", { listId, name: listId });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return (JSON.parse(text) as { position: string }).position;
  }

  it("serves a command and a query as Connect JSON, with the command id and the consistency token as headers", async () => {
    const created = await postJson("/todo.v1.TodoListCommandService/CreateTodoList", { listId: "json", name: "JSON" }, { "recq-command-id": "json-create" });
    assert.equal(created.status, 200);
    const ack = (await created.json()) as { commandId: string; position: string };
    assert.equal(ack.commandId, "json-create");
    const read = await postJson("/todo.v1.TodoListQueryService/GetTodoList", { listId: "json" }, { "recq-consistency-token": ack.position });
    assert.equal(read.status, 200);
    assert.equal(((await read.json()) as { name: string }).name, "JSON");
    // The same command id again is the same command: its outcome, not a second execution.
    const again = await postJson("/todo.v1.TodoListCommandService/CreateTodoList", { listId: "json", name: "JSON" }, { "recq-command-id": "json-create" });
    assert.equal(((await again.json()) as { position: string }).position, ack.position);
  });

  it("serves Connect binary (application/proto)", async () => {
    const { schema, value } = message("todo.v1.CreateTodoList", { listId: "binary", name: "Binary" });
    const response = await fetch(`${base}/todo.v1.TodoListCommandService/CreateTodoList`, {
      method: "POST",
      headers: { "content-type": "application/proto", ...auth },
      body: toBinary(schema, value),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/proto");
    const ack = fromBinary(registry.getMessage("recq.v1.CommandAck")!, new Uint8Array(await response.arrayBuffer())) as unknown as { commandId: string; position: bigint };
    assert.ok(ack.position > 0n);
  });

  it("answers GET on a query marked NO_SIDE_EFFECTS, and refuses GET on a command", async () => {
    const position = await createList("get");
    const query = encodeURIComponent(JSON.stringify({ listId: "get" }));
    // Without the consistency token the read may reach the view before the projector has applied the creation.
    const read = await fetch(`${base}/todo.v1.TodoListQueryService/GetTodoList?encoding=json&message=${query}`, {
      headers: { ...auth, "recq-consistency-token": position },
    });
    assert.equal(read.status, 200);
    assert.equal(((await read.json()) as { listId: string }).listId, "get");
    const command = encodeURIComponent(JSON.stringify({ listId: "get-command", name: "x" }));
    const refused = await fetch(`${base}/todo.v1.TodoListCommandService/CreateTodoList?encoding=json&message=${command}`, { headers: auth });
    assert.equal(refused.status, 405);
  });

  for (const [name, transport] of [
    ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl: base, httpVersion: "1.1" })],
    ["Connect over HTTP/2", () => createConnectTransport({ baseUrl: base, httpVersion: "2" })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1" })],
    ["gRPC-Web over HTTP/2", () => createGrpcWebTransport({ baseUrl: base, httpVersion: "2" })],
  ] as const) {
    it(`serves unary calls and server streaming with a client of ${name}`, async () => {
      const listId = `client-${name.replace(/\W/g, "")}`;
      const t: Transport = transport();
      const commands = createClient(commandService as DescService, t) as Client<DescService>;
      const queries = createClient(queryService as DescService, t) as Client<DescService>;
      const call = (client: Client<DescService>, method: string, init: Record<string, unknown>, type: string) =>
        (client[method] as (request: unknown, options: unknown) => Promise<unknown>)(create(registry.getMessage(type)!, init as never), { headers: auth });
      const created = (await call(commands, "createTodoList", { listId, name }, "todo.v1.CreateTodoList")) as { position: bigint };
      const controller = new AbortController();
      // With the creation's position, the watch waits until the view holds the list (else it may fail NOT_FOUND).
      const watch = (queries.watchTodoList as (request: unknown, options: unknown) => AsyncIterable<{ items: unknown[] }>)(
        create(registry.getMessage("todo.v1.WatchTodoList")!, { listId } as never),
        { headers: { ...auth, "recq-consistency-token": String(created.position) }, signal: controller.signal },
      );
      const seen: number[] = [];
      const added = (async () => {
        await eventually(async () => assert.ok(seen.length >= 1));
        await call(commands, "addTodoItem", { listId, itemId: "a", text: "A" }, "todo.v1.AddTodoItem");
      })();
      try {
        for await (const view of watch) {
          seen.push(view.items.length);
          if (view.items.length === 1) break;
        }
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      } finally {
        controller.abort();
      }
      await added;
      assert.equal(seen[0], 0);
      assert.equal(seen.at(-1), 1);
    });
  }

  it("refuses a caller without the token (unauthenticated) or with another (permission_denied), with the reason", async () => {
    const missing = await fetch(`${base}/todo.v1.TodoListQueryService/GetTodoList`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(missing.status, 401);
    assert.equal(((await missing.json()) as { code: string }).code, "unauthenticated");
    assert.equal(missing.headers.get("recq-reason"), "UNAUTHENTICATED");
    const wrong = await postJson("/todo.v1.TodoListQueryService/GetTodoList", {}, { authorization: "Bearer nope" });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.headers.get("recq-reason"), "PERMISSION_DENIED");
    const client = createClient(queryService as DescService, createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1" })) as Client<DescService>;
    const refused = await (client.getTodoList as (r: unknown) => Promise<unknown>)(create(registry.getMessage("todo.v1.GetTodoList")!, { listId: "x" } as never)).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    assert.equal(refused?.code, Code.Unauthenticated);
    assert.equal(refused?.metadata.get("recq-reason"), "UNAUTHENTICATED");
  });

  it("maps a domain failure to its Connect code with the reason", async () => {
    await createList("twice");
    const response = await postJson("/todo.v1.TodoListCommandService/CreateTodoList", { listId: "twice", name: "again" });
    const body = (await response.json()) as { code: string; message: string };
    assert.equal(body.code, "already_exists", body.message);
    assert.equal(response.status, 409);
    assert.equal(response.headers.get("recq-reason"), "DOMAIN_RULE");
  });

  it("takes a binary request of RECQ_MAX_REQUEST_BYTES and refuses one a byte larger, with REQUEST_TOO_LARGE", async () => {
    const sized = (bytes: number) => {
      // A CreateTodoList whose name fills it to `bytes`: tag + length + list_id, then tag + length + name.
      const listId = "limit";
      const nameLength = bytes - (2 + listId.length) - 2;
      const { schema, value } = message("todo.v1.CreateTodoList", { listId, name: "n".repeat(nameLength) });
      const encoded = toBinary(schema, value);
      assert.equal(encoded.length, bytes);
      return encoded;
    };
    const send = (body: Uint8Array) =>
      fetch(`${base}/todo.v1.TodoListCommandService/CreateTodoList`, { method: "POST", headers: { "content-type": "application/proto", ...auth }, body });
    const atLimit = await send(sized(MAX_REQUEST_BYTES));
    assert.equal(atLimit.status, 200, await atLimit.clone().text());
    const past = await send(sized(MAX_REQUEST_BYTES + 1));
    assert.equal(past.status, 429);
    assert.equal(past.headers.get("recq-reason"), "REQUEST_TOO_LARGE");
    assert.equal(((await past.json()) as { code: string }).code, "resource_exhausted");
  });

  it("accepts a command sent with Prefer: respond-async (202 + Location) and the Location answers its outcome until SUCCEEDED", async () => {
    const response = await postJson("/todo.v1.TodoListCommandService/CreateTodoList", { listId: "later", name: "Later" }, { prefer: "respond-async" });
    assert.equal(response.status, 202);
    const location = response.headers.get("location")!;
    assert.match(location, /^\/recq\/v1\/outcomes\/.+/);
    const ack = (await response.json()) as { commandId: string };
    assert.equal(location, `/recq/v1/outcomes/${ack.commandId}`);
    const outcome = await eventually(async () => {
      const polled = await fetch(`${base}${location}`, { headers: auth });
      assert.equal(polled.status, 200);
      const body = (await polled.json()) as { outcome: { state: string; ack?: { position: string } } };
      assert.equal(body.outcome.state, "OUTCOME_STATE_SUCCEEDED");
      return body.outcome;
    });
    assert.ok(Number(outcome.ack!.position) > 0);
    const unauthenticated = await fetch(`${base}${location}`);
    assert.equal(unauthenticated.status, 401);
  });

  it("serves recq.v1's caller services: an outcome watched as Server-Sent Events, a reply channel listened to over Connect", async () => {
    await createList("caller-services");
    const listenController = new AbortController();
    const replies = createClient(registry.getService("recq.v1.ReplyChannelService")! as DescService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" })) as Client<DescService>;
    const listen = (replies.listen as (request: unknown, options: unknown) => AsyncIterable<{ message: { case: string; value: { commandId?: string; state?: number } } }>)(
      create(registry.getMessage("recq.v1.ListenRequest")!, { channel: "web" } as never),
      { headers: auth, signal: listenController.signal },
    );
    const heard: string[] = [];
    const listening = (async () => {
      for await (const response of listen) {
        heard.push(response.message.case === "outcome" ? `outcome ${response.message.value.commandId}` : response.message.case);
        if (response.message.case === "outcome") break;
      }
    })().catch(() => undefined);
    await eventually(async () => assert.deepEqual(heard, ["listening"]));
    const accepted = await postJson(
      "/todo.v1.TodoListCommandService/AddTodoItem",
      { listId: "caller-services", itemId: "x", text: "X" },
      { prefer: "respond-async", "recq-command-id": "web-reply", "recq-reply-to": "web" },
    );
    assert.equal(accepted.status, 202);
    const watch = await fetch(`${base}/recq/v1/sse/recq.v1.CommandOutcomeService/WatchOutcome?message=${encodeURIComponent('{"commandId":"web-reply"}')}`, { headers: auth });
    assert.equal(watch.status, 200);
    const text = await watch.text();
    assert.match(text, /"state":"OUTCOME_STATE_SUCCEEDED"/);
    assert.match(text, /event: end\n/);
    await listening;
    listenController.abort();
    assert.deepEqual(heard, ["listening", "outcome web-reply"]);
  });

  it("streams events as Server-Sent Events, resumed with Last-Event-ID without a gap or a repeat", async () => {
    await createList("sse");
    const first = await readEvents({ message: { aggregateType: "TodoList", aggregateId: "sse" } }, 1);
    const positions = first.filter((e) => e.data.event).map((e) => e.id);
    assert.ok(positions.length >= 1);
    for (const itemId of ["a", "b"]) {
      const added = await postJson("/todo.v1.TodoListCommandService/AddTodoItem", { listId: "sse", itemId, text: itemId });
      assert.equal(added.status, 200);
    }
    const resumed = await readEvents({ message: { aggregateType: "TodoList", aggregateId: "sse" }, lastEventId: positions.at(-1)! }, 2);
    const events = resumed.filter((e) => e.data.event);
    assert.deepEqual(
      events.map((e) => (e.data.event as { payload: { itemId?: string } }).payload.itemId),
      ["a", "b"],
    );
    assert.ok(events.every((e) => BigInt(e.id) > BigInt(positions.at(-1)!)));
    assert.deepEqual(events.map((e) => e.id), [...new Set(events.map((e) => e.id))]);
  });

  /** Opens an SSE stream of SubscribeEvents and reads until `count` events (not progress messages) came. */
  async function readEvents(options: { message: unknown; lastEventId?: string }, count: number) {
    const url = `${base}/recq/v1/sse/recq.v1.EventService/SubscribeEvents?message=${encodeURIComponent(JSON.stringify(options.message))}`;
    const controller = new AbortController();
    // Bounded: a stream that never brings what is awaited fails the test in seconds, not at jest's timeout.
    const timer = setTimeout(() => controller.abort(), 10_000);
    const headers: Record<string, string> = { authorization: `Bearer ${EVENTS_TOKEN}`, accept: "text/event-stream" };
    if (options.lastEventId) headers["last-event-id"] = options.lastEventId;
    const response = await fetch(url, { headers, signal: controller.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^text\/event-stream/);
    const messages: { id: string; data: { event?: unknown; progress?: unknown } }[] = [];
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    try {
      while (messages.filter((m) => m.data.event).length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        let end: number;
        while ((end = text.indexOf("\n\n")) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (id !== undefined && data !== undefined) messages.push({ id, data: JSON.parse(data) as { event?: unknown } });
        }
      }
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    return messages;
  }

  it("keeps an idle Server-Sent Events stream alive with heartbeat comments", async () => {
    const position = await createList("idle");
    const message = encodeURIComponent(JSON.stringify({ listId: "idle" }));
    const controller = new AbortController();
    const url = `${base}/recq/v1/sse/todo.v1.TodoListQueryService/WatchTodoList?message=${message}&recq-consistency-token=${position}`;
    const response = await fetch(url, { headers: auth, signal: controller.signal });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    // The stream is open while the token waits, so a heartbeat may come before the first view: read until one
    // comes after it, when the stream is idle.
    while (!/^data: .*\n[\s\S]*^: heartbeat/m.test(text)) text += (await reader.read()).value ?? "";
    controller.abort();
    assert.match(text, /^id: 1\ndata: \{.*"listId":"idle"/m);
  });

  it("holds a Server-Sent Events stream until the projection has the consistency token given as a URL parameter", async () => {
    // EventSource sends no headers of its own: the token travels in the URL. A token one past the list's creation
    // makes the watch wait for the next command, so its first view is the one with the item.
    const created = Number(await createList("sse-token"));
    const message = encodeURIComponent(JSON.stringify({ listId: "sse-token" }));
    const controller = new AbortController();
    const url = `${base}/recq/v1/sse/todo.v1.TodoListQueryService/WatchTodoList?message=${message}&recq-consistency-token=${created + 1}`;
    const response = await fetch(url, { headers: auth, signal: controller.signal });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const added = await postJson("/todo.v1.TodoListCommandService/AddTodoItem", { listId: "sse-token", itemId: "milk", text: "Milk" });
    assert.equal(((await added.json()) as { position: string }).position, String(created + 1), "nothing else was appended meanwhile");
    let text = "";
    while (!text.includes("data: ")) text += (await reader.read()).value ?? "";
    controller.abort();
    assert.match(text, /^data: \{.*"itemId":"milk"/m, "the first view already holds the item");
  });

  it("answers a CORS preflight from an allowed origin, and refuses one from another", async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/todo.v1.TodoListQueryService/GetTodoList`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type,authorization" },
      });
    const allowed = await preflight(ALLOWED);
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get("access-control-allow-origin"), ALLOWED);
    assert.match(allowed.headers.get("access-control-allow-headers")!, /authorization/);
    const refused = await preflight("http://elsewhere.example");
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get("access-control-allow-origin"), null);
    const actual = await postJson("/todo.v1.TodoListQueryService/ListTodoLists", {}, { origin: ALLOWED });
    assert.equal(actual.headers.get("access-control-allow-origin"), ALLOWED);
    assert.match(actual.headers.get("access-control-expose-headers")!, /recq-reason/);
  });
});

describe("the HTTP port at shutdown", () => {
  it("ends its streams and closes the port when the gateway stops", async () => {
    const data = await tempDir("http-stop");
    const mesh = await startGateway(data.dir, { http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 10_000 } });
    const todo = await startTodo(mesh.address);
    const port = mesh.gateway.http!.port;
    try {
      const created = await fetch(`http://127.0.0.1:${port}/todo.v1.TodoListCommandService/CreateTodoList`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ listId: "stop", name: "Stop" }),
      });
      assert.equal(created.status, 200);
      // Both watches wait, with the creation's position, until the view holds the list (else they may fail NOT_FOUND).
      const { position } = (await created.json()) as { position: string };
      // One SSE stream over HTTP/1.1 and one Connect stream over HTTP/2, both open when the gateway stops.
      const sse = await openSse(port, `/recq/v1/sse/todo.v1.TodoListQueryService/WatchTodoList?message=${encodeURIComponent('{"listId":"stop"}')}&recq-consistency-token=${position}`);
      const session = http2.connect(`http://127.0.0.1:${port}`);
      const stream = session.request({
        ":method": "POST",
        ":path": "/todo.v1.TodoListQueryService/WatchTodoList",
        "content-type": "application/connect+json",
        "recq-consistency-token": position,
      });
      const body = Buffer.from('{"listId":"stop"}');
      const envelope = Buffer.alloc(5);
      envelope.writeUInt32BE(body.length, 1);
      stream.end(Buffer.concat([envelope, body]));
      let received = "";
      stream.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
      const streamEnded = new Promise<void>((resolve) => stream.on("close", () => resolve()));
      await eventually(async () => assert.ok(received.includes('"listId":"stop"')));
      await eventually(async () => assert.ok(sse.text().includes('"listId":"stop"')));
      todo.mesh.close();
      await mesh.gateway.stop();
      await sse.ended;
      await streamEnded;
      session.close();
      assert.match(received, /unavailable/);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/todo.v1.TodoListQueryService/ListTodoLists`, { method: "POST", body: "{}" }));
    } finally {
      todo.mesh.close();
      await mesh.gateway.stop();
      await data.remove();
    }
  });
});

function openSse(port: number, path: string): Promise<{ text(): string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      const ended = new Promise<void>((done) => response.on("close", () => done()));
      resolve({ text: () => text, ended });
    });
    request.on("error", reject);
  });
}
