import assert from "node:assert/strict";
import { afterEach, describe, it } from "@jest/globals";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { MeshService } from "@recq-mesh/kit";
import { todoListAggregate } from "@recq-mesh/todo";
import { TodoListQueryServiceClient, TodoListQueryServiceService, TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import type { GatewayLimits } from "@recq-mesh/gateway";
import http2 from "node:http2";
import { GetTodoList } from "@recq-mesh/todo/gen/todo/v1/queries";
import { call, eventually, failure, startGateway, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";
import { framed, rawAnswer, rawClosed, rawRequest, within } from "../support/raw-grpc";

/** A client on a connection of its own: the gateway shares its limit among connections. */
function connection(address: string): TodoListQueryServiceClient {
  return new TodoListQueryServiceClient(address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
}

function get(client: TodoListQueryServiceClient, listId: string, deadlineMs = 10_000): Promise<TodoListView> {
  return call(client, client.getTodoList, { listId }, {}, deadlineMs);
}

function reasonOf(error: ServiceError): unknown {
  return error.metadata.get("recq-reason")[0];
}

function assertOverloaded(error: ServiceError): void {
  assert.equal(error.code, status.RESOURCE_EXHAUSTED, error.details);
  assert.equal(reasonOf(error), "OVERLOADED");
  const hint = Number(error.metadata.get("grpc-retry-pushback-ms")[0]);
  assert.ok(Number.isInteger(hint) && hint >= 5 && hint <= 1000, `retry hint ${String(hint)}`);
}

/** A well-behaved caller: on OVERLOADED it waits as long as `grpc-retry-pushback-ms` says, then tries again (10 times). */
async function politely<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (thrown) {
      const error = thrown as ServiceError;
      if (tries === 10 || reasonOf(error) !== "OVERLOADED") throw error;
      await new Promise((resolve) => setTimeout(resolve, Number(error.metadata.get("grpc-retry-pushback-ms")[0])));
    }
  }
}

/** Opens a subscription and answers its refusal; rejects if it was still open after 300 ms (then cancels it). */
function refusedSubscription(client: TodoListQueryServiceClient, listId: string): Promise<ServiceError> {
  const stream = client.watchTodoList({ listId });
  return new Promise<ServiceError>((resolve, reject) => {
    const timer = setTimeout(() => (stream.cancel(), reject(new Error("the subscription was admitted"))), 300);
    stream.on("error", (error: ServiceError) => (clearTimeout(timer), error.code === status.CANCELLED ? undefined : resolve(error)));
    stream.on("data", () => undefined);
  });
}

const view = (listId: string): TodoListView => TodoListView.fromPartial({ listId, name: listId });

/** A query service whose GetTodoList answers when the test says so (`answerAll`), or after `delayMs`. */
async function startQueries(address: string, options: { delayMs?: number; maxConcurrent?: number } = {}) {
  const waiting: (() => void)[] = [];
  const mesh = new MeshService({ address, component: "test-queries", maxConcurrent: options.maxConcurrent });
  mesh.addQueries({
    service: TodoListQueryServiceService,
    handlers: {
      getTodoList: (request) =>
        new Promise<TodoListView>((resolve) => {
          if (options.delayMs !== undefined) setTimeout(() => resolve(view(request.listId)), options.delayMs);
          else waiting.push(() => resolve(view(request.listId)));
        }),
      listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
      watchTodoList: (_request, context) => new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve())),
    },
  });
  await mesh.start();
  return { mesh, waiting, answerAll: () => waiting.splice(0).forEach((answer) => answer()) };
}

describe("admission control", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function gatewayWith(limits: Partial<GatewayLimits>): Promise<RunningGateway> {
    const data = await tempDir("admission");
    const mesh = await startGateway(data.dir, { limits });
    cleanups.push(() => data.remove(), () => mesh.gateway.stop());
    return mesh;
  }

  it("holds a fixed limit at its boundary, keeping a tenth of it from the connection that holds the rest", async () => {
    const mesh = await gatewayWith({ maxCallsInFlight: 10, minCallsInFlight: 10 });
    const queries = await startQueries(mesh.address);
    cleanups.push(() => queries.mesh.close());
    const [flood, modest, late] = [connection(mesh.address), connection(mesh.address), connection(mesh.address)];
    cleanups.push(() => [flood, modest, late].forEach((c) => c.close()));

    const held = Array.from({ length: 9 }, (_, i) => get(flood, `f${i}`));
    await eventually(async () => assert.equal(queries.waiting.length, 9));
    assertOverloaded(await failure(get(flood, "f-share")));
    const modestCall = get(modest, "m0");
    await eventually(async () => assert.equal(queries.waiting.length, 10));
    const refused = await failure(get(late, "l0"));
    assertOverloaded(refused);
    assert.match(refused.details, /10 calls in flight, past its limit of 10 and the reserve for new callers/);

    queries.answerAll();
    await Promise.all([...held, modestCall]);
    const again = get(late, "l1");
    await eventually(async () => assert.equal(queries.waiting.length, 1));
    queries.answerAll();
    assert.equal((await again).listId, "l1", "slots come back when calls are answered");
  });

  it("gives a slot back however a call ends: answered, past its deadline, cancelled, too large, stalled", async () => {
    const mesh = await gatewayWith({ maxCallsInFlight: 1, maxRequestArrivalMs: 300, maxRequestBytes: 1024 });
    const queries = await startQueries(mesh.address);
    const client = connection(mesh.address);
    const session = http2.connect(`http://${mesh.address}`);
    session.on("error", () => undefined);
    cleanups.push(() => queries.mesh.close(), () => client.close(), () => session.close());
    const GET = "/todo.v1.TodoListQueryService/GetTodoList";
    /** The one slot is free: a call is admitted (and answered), not refused. */
    const slotIsFree = async () => {
      const answer = get(client, "probe");
      await eventually(async () => assert.equal(queries.waiting.length, 1));
      queries.answerAll();
      assert.equal((await answer).listId, "probe");
    };

    // Past its deadline, the handler never answering.
    assert.equal((await failure(get(client, "late", 200))).code, status.DEADLINE_EXCEEDED);
    queries.waiting.splice(0);
    await slotIsFree();
    // Cancelled by its caller.
    const cancelled = client.getTodoList({ listId: "cancelled" }, () => undefined);
    await eventually(async () => assert.equal(queries.waiting.length, 1));
    cancelled.cancel();
    queries.waiting.splice(0);
    await eventually(slotIsFree);
    // Refused for its size by the caller limits, and ended by their arrival clock: neither ever held the slot.
    const tooLarge = rawRequest(session, GET);
    const tooLargeAnswer = rawAnswer(tooLarge);
    tooLarge.write(framed(2000, Buffer.alloc(10)));
    assert.equal((await within(tooLargeAnswer, 5_000, "the too-large answer")).reason, "REQUEST_TOO_LARGE");
    const stalled = rawRequest(session, GET);
    const stalledAnswer = rawAnswer(stalled);
    stalled.write(framed(1000, Buffer.alloc(9)));
    // While it stalls, it holds no slot: an honest call is served.
    await slotIsFree();
    assert.equal((await within(stalledAnswer, 5_000, "the stalled answer")).status, status.DEADLINE_EXCEEDED);
    await slotIsFree();
    // A whole request on a raw stream, refused while the slot is taken, then admitted once it is free.
    const holder = get(client, "holder");
    await eventually(async () => assert.equal(queries.waiting.length, 1));
    const refusedRaw = rawRequest(session, GET);
    const refusedAnswer = rawAnswer(refusedRaw);
    const body = GetTodoList.encode({ listId: "raw" }).finish();
    refusedRaw.end(framed(body.length, body));
    assert.equal((await within(refusedAnswer, 5_000, "the refusal")).reason, "OVERLOADED");
    queries.answerAll();
    await holder;
    await slotIsFree();
  });

  it("gives a slot back when a unary call carries a second request message (grpc-js answers it UNIMPLEMENTED)", async () => {
    // A fixed limit of 4: a new connection is admitted while fewer than 4 calls are in flight.
    const mesh = await gatewayWith({ maxCallsInFlight: 4, minCallsInFlight: 4 });
    const queries = await startQueries(mesh.address);
    const clients = [connection(mesh.address), connection(mesh.address)];
    const session = http2.connect(`http://${mesh.address}`);
    session.on("error", () => undefined);
    cleanups.push(() => queries.mesh.close(), () => clients.forEach((client) => client.close()), () => session.close());
    const body = GetTodoList.encode({ listId: "twice" }).finish();
    for (let attempt = 0; attempt < 3; attempt++) {
      const doubled = rawRequest(session, "/todo.v1.TodoListQueryService/GetTodoList");
      const answer = rawAnswer(doubled);
      doubled.end(Buffer.concat([framed(body.length, body), framed(body.length, body)]));
      assert.equal((await within(answer, 5_000, "the answer to two messages")).status, status.UNIMPLEMENTED);
    }
    queries.waiting.splice(0);
    // Had each doubled call kept a slot, three of the four would be gone and the second of these refused OVERLOADED.
    const answers = [get(clients[0]!, "first"), get(clients[1]!, "second")];
    await eventually(async () => assert.equal(queries.waiting.length, 2));
    queries.answerAll();
    assert.deepEqual((await Promise.all(answers)).map((view) => view.listId), ["first", "second"]);
  });

  it("resets a refused caller's stream that it left open, at once rather than at RECQ_MAX_REQUEST_ARRIVAL_MS", async () => {
    // The arrival limit far beyond the wait below: only the refusal's own reset can close the stream in time.
    const mesh = await gatewayWith({ maxCallsInFlight: 1, maxRequestArrivalMs: 60_000 });
    const queries = await startQueries(mesh.address);
    const client = connection(mesh.address);
    const session = http2.connect(`http://${mesh.address}`);
    session.on("error", () => undefined);
    cleanups.push(() => queries.mesh.close(), () => client.close(), () => session.close());
    const holder = get(client, "holder");
    await eventually(async () => assert.equal(queries.waiting.length, 1));
    // A whole message, but the stream never ended by its caller: refused, and its stream closed by the gateway.
    const refused = rawRequest(session, "/todo.v1.TodoListQueryService/GetTodoList");
    const answer = rawAnswer(refused);
    const closed = rawClosed(refused);
    const body = GetTodoList.encode({ listId: "left-open" }).finish();
    refused.write(framed(body.length, body));
    assert.equal((await within(answer, 5_000, "the refusal")).reason, "OVERLOADED");
    assert.equal(await within(closed, 5_000, "the refused stream's close"), http2.constants.NGHTTP2_NO_ERROR);
    queries.answerAll();
    assert.equal((await holder).listId, "holder");
  });

  it("holds subscriptions to RECQ_MAX_SUBSCRIPTIONS apart from unary calls", async () => {
    const mesh = await gatewayWith({ maxSubscriptions: 2 });
    const queries = await startQueries(mesh.address);
    const client = connection(mesh.address);
    cleanups.push(() => queries.mesh.close(), () => client.close());
    const watches = [client.watchTodoList({ listId: "w1" }), client.watchTodoList({ listId: "w2" })];
    for (const watch of watches) watch.on("error", () => undefined);
    assertOverloaded(await eventually(() => refusedSubscription(client, "w3")));
    const unary = get(client, "still-served");
    await eventually(async () => assert.equal(queries.waiting.length, 1));
    queries.answerAll();
    await unary;
    watches[0]!.cancel();
    // Admitted once a subscription has ended: it stays open until cancelled.
    await eventually(async () => assert.equal(await refusedSubscription(client, "w4").catch(() => "open"), "open"));
    watches[1]!.cancel();
  });

  it("cuts its limit when round trips grow, refuses the flood fast, serves a modest caller, and recovers", async () => {
    const mesh = await gatewayWith({ maxCallsInFlight: 3000, minCallsInFlight: 8 });
    // Two answers at a time, 20 ms each: 100 calls/s, and a queue in front of it as soon as more arrive.
    const queries = await startQueries(mesh.address, { delayMs: 20, maxConcurrent: 2 });
    const [flood, modest] = [connection(mesh.address), connection(mesh.address)];
    cleanups.push(() => queries.mesh.close(), () => flood.close(), () => modest.close());
    // A method's usual round trip is learnt over its first second: calls one at a time, for a little longer.
    const warmUntil = Date.now() + 1200;
    for (let i = 0; Date.now() < warmUntil; i++) await get(flood, `warm-${i}`);

    // A flood of ~300 calls/s, three times what the handler does, until the gateway refuses it — at most 2,000
    // calls, below the ceiling of 3,000: only a limit that adapted refuses them.
    const outcomes = { answered: 0, overloaded: 0 };
    const floodCalls: Promise<void>[] = [];
    while (outcomes.overloaded === 0 && floodCalls.length < 2000) {
      floodCalls.push(
        get(flood, `f${floodCalls.length}`, 30_000).then(
          () => void (outcomes.answered += 1),
          (error: ServiceError) => (assertOverloaded(error), void (outcomes.overloaded += 1)),
        ),
      );
      await new Promise((r) => setTimeout(r, 3));
    }
    assert.ok(outcomes.overloaded > 0, "the flood was refused as its round trips grew");
    assert.equal((await politely(() => get(modest, "modest", 20_000))).listId, "modest", "a caller holding nothing gets through");
    await Promise.all(floodCalls);
    assert.equal(outcomes.answered + outcomes.overloaded, floodCalls.length);
    assert.ok(outcomes.answered > 0, "what was admitted is answered, not dropped");
    // The flood has drained: the caller is let in again.
    await eventually(() => get(flood, "after", 5_000), 10_000);
  });

  it("takes a command out of its aggregate's queue as soon as its caller has gone", async () => {
    const mesh = await gatewayWith({ maxQueuedPerAggregate: 2 });
    const release: (() => void)[] = [];
    const handler = new MeshService({ address: mesh.address, component: "slow-create" });
    handler.addAggregate({
      ...todoListAggregate,
      decide: {
        ...todoListAggregate.decide,
        createTodoList: (command) =>
          new Promise((resolve) => release.push(() => resolve([{ type: "todo.v1.TodoListCreated" as const, data: { listId: command.listId, name: command.name } }]))),
      },
    });
    await handler.start();
    const clients = todoClients(mesh.address);
    cleanups.push(() => handler.close(), () => clients.close());
    const create = (deadlineMs: number) => call(clients.commands, clients.commands.createTodoList, { listId: "hot", name: "Hot" }, {}, deadlineMs);

    const first = create(10_000);
    await eventually(async () => assert.equal(release.length, 1));
    const abandoned = await failure(create(200));
    assert.equal(abandoned.code, status.DEADLINE_EXCEEDED);
    // Its place is free again at once, while the first still runs: no QUEUE_FULL.
    const third = create(10_000);
    await new Promise((r) => setTimeout(r, 100));
    release.shift()!();
    assert.equal((await first).sequence, "1");
    await eventually(async () => assert.equal(release.length, 1));
    release.shift()!();
    assert.equal((await third).sequence, "2", "the abandoned command never ran");
  });
});
