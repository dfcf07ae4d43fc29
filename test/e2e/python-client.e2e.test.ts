import assert from "node:assert/strict";
import { afterAll, beforeAll, it } from "@jest/globals";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { PYTHON_CLIENT, PYTHON_TOOL, PYTHON_WITH_GRPC, run } from "../support/python";
import { describeWith } from "../support/required-tool";

/** What a grpcurl user does on day one, with a strict client that has no .proto files: reflection only. */
describeWith(PYTHON_TOOL)("a strict client with no .proto files, against the running mesh", () => {
  let python: string;
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;

  beforeAll(async () => {
    python = PYTHON_WITH_GRPC!;
    data = await tempDir("python");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
  });

  afterAll(async () => {
    todo.mesh.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  const client = (...args: string[]) => run(python, [PYTHON_CLIENT, mesh.address, ...args], { timeout: 30_000 });

  it("discovers the services, creates a list from JSON and reads it back", async () => {
    const listed = JSON.parse((await client("list")).stdout) as { services: { name: string }[] };
    const names = listed.services.map((s) => s.name);
    for (const name of ["todo.v1.TodoListCommandService", "todo.v1.TodoListQueryService", "grpc.health.v1.Health", "recq.v1.HandlerLinkService"]) {
      assert.ok(names.includes(name), `${name} in ${names.join(", ")}`);
    }
    const ack = JSON.parse((await client("call", "todo.v1.TodoListCommandService/CreateTodoList", '{"list_id": "py", "name": "From Python"}', "--metadata", "recq-command-id=py-1")).stdout) as {
      command_id: string;
      position: string;
    };
    assert.equal(ack.command_id, "py-1");
    const view = JSON.parse(
      (await client("call", "todo.v1.TodoListQueryService/GetTodoList", '{"list_id": "py"}', "--metadata", `recq-consistency-token=${ack.position}`)).stdout,
    ) as Record<string, unknown>;
    assert.equal(view.list_id, "py");
    assert.equal(view.name, "From Python");
    assert.equal(view.version, "1");
  });
});
