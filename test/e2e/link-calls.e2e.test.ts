import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError, MeshService } from "@recq-mesh/kit";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoListQueryServiceService } from "@recq-mesh/todo/gen/todo/v1/queries";
import { closeHandlers, startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo, startHangingQueries } from "../support/mesh-harness";

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
