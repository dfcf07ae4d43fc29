import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { Client, credentials, status, type ServiceError } from "@grpc/grpc-js";
import { MeshService, type CommandContext } from "@recq-mesh/kit";
import { todoListAggregate } from "@recq-mesh/todo";
import type { CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import type { TodoListState } from "@recq-mesh/todo/gen/todo/v1/events";
import { call, closeHandlers as closeAll, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";

type Decide = (command: CreateTodoList, state: TodoListState, context: CommandContext) => Promise<{ type: "todo.v1.TodoListCreated"; data: { listId: string; name: string } }[]>;

/** The TodoList aggregate with CreateTodoList replaced: how these tests make a handler slow, count, or misbehave. */
function aggregateWithCreate(create: Decide) {
  return { ...todoListAggregate, decide: { ...todoListAggregate.decide, createTodoList: create } };
}

async function linkCreateHandler(address: string, create: Decide, options: { instanceId?: string; maxConcurrent?: number } = {}): Promise<MeshService> {
  const mesh = new MeshService({ address, component: "test-commands", ...options });
  mesh.addAggregate(aggregateWithCreate(create));
  await mesh.start();
  return mesh;
}

function created(command: CreateTodoList) {
  return [{ type: "todo.v1.TodoListCreated" as const, data: { listId: command.listId, name: command.name } }];
}

function reasonOf(error: ServiceError): unknown {
  return error.metadata.get("recq-reason")[0];
}

describe("failure model", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let clients: ReturnType<typeof todoClients>;
  const handlers: MeshService[] = [];

  beforeAll(async () => {
    data = await tempDir("failures");
    mesh = await startGateway(data.dir, { limits: { maxQueuedPerLink: 1, maxQueuedPerAggregate: 2, maxRequestBytes: 4096, maxConflictRetries: 2 } });
    clients = todoClients(mesh.address);
  });

  afterAll(async () => {
    clients.close();
    for (const handler of handlers) handler.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  const closeHandlers = () => closeAll(mesh.gateway, handlers);

  it("answers UNAVAILABLE naming the method when no handler is connected", async () => {
    const error = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "x", name: "X" }));
    assert.equal(error.code, status.UNAVAILABLE);
    assert.match(error.details, /todo\.v1\.TodoListCommandService\/CreateTodoList/);
    assert.equal(reasonOf(error), "NO_HANDLER");
  });

  it("answers INVALID_ARGUMENT for request bytes that do not parse", async () => {
    const raw = new Client(mesh.address, credentials.createInsecure());
    try {
      const error = await new Promise<ServiceError>((resolve) =>
        raw.makeUnaryRequest(
          "/todo.v1.TodoListCommandService/CreateTodoList",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x0a, 0xff, 0xff]),
          (error) => resolve(error as ServiceError),
        ),
      );
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.equal(reasonOf(error), "INVALID_REQUEST");
    } finally {
      raw.close();
    }
  });

  it("answers RESOURCE_EXHAUSTED for a request over the size limit", async () => {
    const error = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "big", name: "n".repeat(5000) }));
    assert.equal(error.code, status.RESOURCE_EXHAUSTED);
    assert.match(error.details, /at most 4096/);
  });

  it("gives the caller UNAVAILABLE when the handler is lost mid-call, and another instance takes the retry", async () => {
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const stuck = await linkCreateHandler(mesh.address, () => {
      entered();
      return new Promise(() => undefined);
    });
    handlers.push(stuck);
    const headers = { "recq-command-id": "lost-1" };
    const pending = failure(call(clients.commands, clients.commands.createTodoList, { listId: "lost", name: "Lost" }, headers));
    await inside;
    const healthy = await startTodo(mesh.address, { roles: ["commands"] });
    handlers.push(healthy.mesh);
    stuck.close(); // the process's link dies with the call in flight
    const error = await pending;
    assert.equal(error.code, status.UNAVAILABLE);
    assert.equal(reasonOf(error), "HANDLER_LOST");
    const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "lost", name: "Lost" }, headers);
    assert.equal(ack.commandId, "lost-1");
    assert.equal(ack.sequence, "1");
    await closeHandlers();
  });

  it("answers DEADLINE_EXCEEDED when the deadline passes, and the handler receives a cancel", async () => {
    let cancelReason: unknown;
    let cancelled!: () => void;
    const sawCancel = new Promise<void>((resolve) => (cancelled = resolve));
    handlers.push(
      await linkCreateHandler(mesh.address, (_command, _state, context) => {
        context.signal.addEventListener("abort", () => {
          cancelReason = context.signal.reason;
          cancelled();
        });
        return new Promise(() => undefined);
      }),
    );
    const error = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "slow", name: "Slow" }, {}, 300));
    assert.equal(error.code, status.DEADLINE_EXCEEDED);
    await sawCancel;
    assert.match(String(cancelReason), /DEADLINE_EXCEEDED/);
    assert.equal((await mesh.store.readAggregate("TodoList", "slow")).sequence, 0, "nothing was appended");
    await closeHandlers();
  });

  it("answers RESOURCE_EXHAUSTED when the handler's permits and the link queue are used up", async () => {
    const release: (() => void)[] = [];
    handlers.push(
      await linkCreateHandler(
        mesh.address,
        (command) => new Promise((resolve) => release.push(() => resolve(created(command)))),
        { maxConcurrent: 1 },
      ),
    );
    const first = call(clients.commands, clients.commands.createTodoList, { listId: "permit-1", name: "One" });
    await waitFor(() => release.length === 1);
    const queued = call(clients.commands, clients.commands.createTodoList, { listId: "permit-2", name: "Two" });
    await new Promise((r) => setTimeout(r, 100));
    const refused = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "permit-3", name: "Three" }));
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
    assert.equal(reasonOf(refused), "NO_PERMITS");
    release.shift()!();
    assert.equal((await first).sequence, "1");
    await waitFor(() => release.length === 1);
    release.shift()!();
    assert.equal((await queued).sequence, "1", "the queued call ran once a permit came back");
    await closeHandlers();
  });

  it("answers RESOURCE_EXHAUSTED when too many commands queue for one aggregate", async () => {
    const release: (() => void)[] = [];
    handlers.push(await linkCreateHandler(mesh.address, (command) => new Promise((resolve) => release.push(() => resolve(created(command))))));
    const calls = [call(clients.commands, clients.commands.createTodoList, { listId: "hot", name: "Hot" })];
    await waitFor(() => release.length === 1);
    calls.push(call(clients.commands, clients.commands.createTodoList, { listId: "hot", name: "Hot" }));
    await new Promise((r) => setTimeout(r, 50));
    const refused = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "hot", name: "Hot" }));
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
    assert.equal(reasonOf(refused), "QUEUE_FULL");
    release.shift()!();
    await calls[0];
    await waitFor(() => release.length === 1);
    release.shift()!();
    const second = await calls[1]!;
    assert.equal(second.sequence, "2", "the queued command ran after the first, in order, on its history");
    await closeHandlers();
  });

  it("answers ABORTED when the aggregate keeps changing under the command", async () => {
    handlers.push(
      await linkCreateHandler(mesh.address, async (command, _state, context) => {
        // Another writer appends to the same aggregate while this handler decides.
        await mesh.store.append({
          aggregateType: "TodoList",
          aggregateId: command.listId,
          expectedSequence: context.sequence,
          commandId: `intruder-${context.sequence}`,
          events: [{ type: "todo.v1.TodoListRenamed", payload: Buffer.alloc(0), metadata: {} }],
        });
        return created(command);
      }),
    );
    const error = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "contested", name: "C" }, { "recq-command-id": "contested-1" }));
    assert.equal(error.code, status.ABORTED);
    assert.equal(reasonOf(error), "AGGREGATE_CONFLICT");
    assert.match(error.details, /3 attempts conflicted/);
    await closeHandlers();
  });

  it("shares commands without affinity conflicts across two instances of a handler", async () => {
    const counts = new Map<string, number>();
    const counting = (instance: string): Decide => async (command) => {
      counts.set(instance, (counts.get(instance) ?? 0) + 1);
      return created(command);
    };
    handlers.push(await linkCreateHandler(mesh.address, counting("a"), { instanceId: "instance-a" }));
    handlers.push(await linkCreateHandler(mesh.address, counting("b"), { instanceId: "instance-b" }));
    await Promise.all(Array.from({ length: 40 }, (_, i) => call(clients.commands, clients.commands.createTodoList, { listId: `shared-${i}`, name: "S" })));
    assert.equal((counts.get("a") ?? 0) + (counts.get("b") ?? 0), 40);
    assert.ok((counts.get("a") ?? 0) >= 5, `instance a took ${counts.get("a")} of 40`);
    assert.ok((counts.get("b") ?? 0) >= 5, `instance b took ${counts.get("b")} of 40`);
    await closeHandlers();
  });
});

describe("credentials", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;

  beforeAll(async () => {
    data = await tempDir("credentials");
    mesh = await startGateway(data.dir, { linkToken: "link-secret", clientToken: "client-secret" });
  });

  afterAll(async () => {
    await mesh.gateway.stop();
    await data.remove();
  });

  it("refuses a handler link without credentials (UNAUTHENTICATED) or with wrong ones (PERMISSION_DENIED)", async () => {
    for (const [credentials, code] of [[undefined, status.UNAUTHENTICATED], ["wrong", status.PERMISSION_DENIED]] as const) {
      const handler = new MeshService({ address: mesh.address, component: "intruder", credentials });
      handler.addAggregate(todoListAggregate);
      await assert.rejects(handler.start(), (error: { code: number }) => error.code === code);
      handler.close();
    }
    assert.equal(mesh.gateway.handlerLinkCount, 0);
  });

  it("refuses callers without the client token, and serves them with it", async () => {
    const todo = await startTodo(mesh.address, { credentials: "link-secret", roles: ["commands"] });
    const clients = todoClients(mesh.address);
    try {
      const missing = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "a", name: "A" }));
      assert.equal(missing.code, status.UNAUTHENTICATED);
      const wrong = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "a", name: "A" }, { authorization: "Bearer nope" }));
      assert.equal(wrong.code, status.PERMISSION_DENIED);
      const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "a", name: "A" }, { authorization: "Bearer client-secret" });
      assert.equal(ack.sequence, "1");
    } finally {
      clients.close();
      todo.mesh.close();
    }
  });

  it("rejects a subscription to a method the gateway does not serve, loudly", async () => {
    const handler = new MeshService({ address: mesh.address, component: "confused", credentials: "link-secret" });
    handler.addAggregate({ ...todoListAggregate, service: { ...todoListAggregate.service, createTodoList: { ...todoListAggregate.service.createTodoList, path: "/todo.v1.Nope/Create" as "/todo.v1.TodoListCommandService/CreateTodoList" } } });
    await assert.rejects(handler.start(), /todo\.v1\.Nope\/Create: no command or query method/);
    handler.close();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

