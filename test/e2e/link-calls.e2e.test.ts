import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials, status as status } from "@grpc/grpc-js";
import { MeshError, MeshService } from "@recq-mesh/kit";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoListQueryServiceClient, TodoListQueryServiceService, TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import {
  call,
  closeHandlers,
  eventually,
  failure,
  startGateway,
  startTodo,
  tempDir,
  type RunningGateway,
  type RunningTodo,
  startHangingQueries,
} from "../support/mesh-harness";

/** A service of the mesh calling others through its own link, instead of a unary call per hop. */
describe("calls over a handler link", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let caller: MeshService;

  beforeAll(async () => {
    data = await tempDir("link-calls");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    caller = new MeshService({ address: mesh.address, component: "caller" });
    await caller.start();
  });

  afterAll(async () => {
    await closeHandlers(mesh.gateway, [caller, todo.mesh]);
    await mesh.gateway.stop();
    await data.remove();
  });

  it("sends commands and reads its own writes with the ack's consistency token", async () => {
    const ack = await caller.call(TodoListCommandServiceService.createTodoList, { listId: "internal", name: "Internal" }, { commandId: "internal-1" });
    assert.equal(ack.commandId, "internal-1");
    const again = await caller.call(TodoListCommandServiceService.createTodoList, { listId: "internal", name: "Internal" }, { commandId: "internal-1" });
    assert.deepEqual(again, ack, "deduplicated like any caller's command");
    const view = await caller.call(TodoListQueryServiceService.getTodoList, { listId: "internal" }, { consistencyToken: ack.position });
    assert.equal(view.name, "Internal");
  });

  it("gets the same statuses as any caller", async () => {
    const rule = await caller.call(TodoListCommandServiceService.createTodoList, { listId: "internal", name: "Twice" }).catch((e: unknown) => e);
    assert.ok(rule instanceof MeshError);
    assert.equal(rule.code, status.ALREADY_EXISTS);
    const missingKey = await caller.call(TodoListCommandServiceService.createTodoList, { listId: "", name: "X" }).catch((e: unknown) => e);
    assert.ok(missingKey instanceof MeshError);
    assert.equal(missingKey.code, status.INVALID_ARGUMENT);
    const streaming = await caller.call(TodoListQueryServiceService.watchTodoList, { listId: "internal" }).catch((e: unknown) => e);
    assert.ok(streaming instanceof MeshError);
    assert.equal(streaming.code, status.UNIMPLEMENTED);
  });

  it("answers DEADLINE_EXCEEDED when the call's own deadline passes", async () => {
    const dir = await tempDir("link-deadline");
    const other = await startGateway(dir.dir);
    const slow = await startHangingQueries(other.address, "slow-queries");
    const impatient = new MeshService({ address: other.address, component: "impatient" });
    await impatient.start();
    try {
      const error = await impatient.call(TodoListQueryServiceService.getTodoList, { listId: "x" }, { timeoutMs: 200 }).catch((e: unknown) => e);
      assert.ok(error instanceof MeshError);
      assert.equal(error.code, status.DEADLINE_EXCEEDED);
    } finally {
      await closeHandlers(other.gateway, [slow, impatient]);
      await other.gateway.stop();
      await dir.remove();
    }
  });
});

/** A query service whose GetTodoList answers when the test says so. */
async function startHeldQueries(address: string) {
  const waiting: (() => void)[] = [];
  const mesh = new MeshService({ address, component: "held-queries" });
  mesh.addQueries({
    service: TodoListQueryServiceService,
    handlers: {
      getTodoList: (request) => new Promise<TodoListView>((resolve) => waiting.push(() => resolve(TodoListView.fromPartial({ listId: request.listId, name: request.listId })))),
      listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
      watchTodoList: async () => undefined,
    },
  });
  await mesh.start();
  return { mesh, waiting, answerAll: () => waiting.splice(0).forEach((answer) => answer()) };
}

describe("calls over a handler link and the gateway's admission", () => {
  it("refuses a link call RESOURCE_EXHAUSTED / OVERLOADED while callers hold every slot, takes it once one is free, and counts it against callers", async () => {
    const data = await tempDir("link-admission");
    const mesh = await startGateway(data.dir, { limits: { maxCallsInFlight: 2, minCallsInFlight: 2 } });
    const queries = await startHeldQueries(mesh.address);
    const fanOut = new MeshService({ address: mesh.address, component: "fan-out" });
    await fanOut.start();
    // One connection each: a connection holding calls gets only its share of the limit.
    const [first, second] = [0, 1].map(() => new TodoListQueryServiceClient(mesh.address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }));
    try {
      const held = [call(first!, first!.getTodoList, { listId: "a" }), call(second!, second!.getTodoList, { listId: "b" })];
      await eventually(async () => assert.equal(queries.waiting.length, 2));
      const refused = await fanOut.call(TodoListQueryServiceService.getTodoList, { listId: "over-the-link" }, { timeoutMs: 2_000 }).catch((e: unknown) => e);
      assert.ok(refused instanceof MeshError, String(refused));
      assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
      assert.equal(refused.reason, "OVERLOADED");
      assert.match(refused.message, /overloaded: the gateway has 2 calls in flight/);
      assert.equal(queries.waiting.length, 2, "the refused call never reached a handler");

      queries.answerAll();
      await Promise.all(held);
      // Slots free: the link call is admitted, and while it runs it holds one of the two.
      const admitted = fanOut.call(TodoListQueryServiceService.getTodoList, { listId: "over-the-link" });
      await eventually(async () => assert.equal(queries.waiting.length, 1));
      const alongside = call(first!, first!.getTodoList, { listId: "c" });
      await eventually(async () => assert.equal(queries.waiting.length, 2));
      const third = await failure(call(second!, second!.getTodoList, { listId: "d" }));
      assert.equal(third.code, status.RESOURCE_EXHAUSTED, "the link call holds a slot: a caller finds the gateway full");
      queries.answerAll();
      assert.equal((await admitted).listId, "over-the-link");
      await alongside;
      // Its slot came back: both of the gateway's slots take calls again.
      const again = [call(first!, first!.getTodoList, { listId: "e" }), call(second!, second!.getTodoList, { listId: "f" })];
      await eventually(async () => assert.equal(queries.waiting.length, 2));
      queries.answerAll();
      await Promise.all(again);
    } finally {
      first!.close();
      second!.close();
      await closeHandlers(mesh.gateway, [fanOut, queries.mesh]);
      await mesh.gateway.stop();
      await data.remove();
    }
  });
});
