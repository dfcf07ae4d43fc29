import assert from "node:assert/strict";
import { afterAll, beforeAll, it } from "@jest/globals";
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  TodoListQueryServiceService,
  type TodoListQueryServiceServer,
  type TodoListView,
} from "@recq-mesh/todo/gen/todo/v1/queries";
import { loadDescriptorCatalog, type DescriptorCatalog, type FileEntry } from "@recq-mesh/gateway/internal/descriptors/descriptor-catalog";
import { addReflectionService } from "@recq-mesh/gateway/internal/reflection/reflection-service";
import { readDescriptorSetBytes } from "./descriptor-set-fixture";
import { startTestServer, type TestServer } from "./grpc-test-server";
import { PYTHON_CLIENT as CLIENT, PYTHON_TOOL, PYTHON_WITH_GRPC, run } from "../support/python";
import { describeWith } from "../support/required-tool";

/*
 * The strict check: a Python client (C++ descriptor pool, as grpcurl and the Go/C++ runtimes) that discovers
 * the server by reflection alone must build every served file and call a method with what it built.
 */


const catalog = loadDescriptorCatalog(readDescriptorSetBytes());
/** Every service of the set, so every file is built by the strict client. */
const servedServices = [...catalog.registry.files].flatMap((file) => file.services.map((service) => service.typeName));

const view: TodoListView = {
  listId: "groceries",
  name: "Groceries",
  items: [{ itemId: "i1", text: "milk", completed: true, attachments: [] }],
  itemCount: 1,
  completedCount: 1,
  version: "7",
  deleted: false,
  createdAt: new Date("2024-01-02T03:04:05Z"),
  updatedAt: undefined,
};

const queries: Pick<TodoListQueryServiceServer, "getTodoList" | "watchTodoList"> = {
  getTodoList: (call, callback) => {
    if (call.request.listId !== view.listId) {
      callback({ code: grpc.status.NOT_FOUND, details: `no list ${call.request.listId}` });
      return;
    }
    const tenant = call.metadata.get("x-tenant")[0];
    callback(null, { ...view, name: tenant === undefined ? view.name : `${view.name} of ${String(tenant)}` });
  },
  watchTodoList: (call) => {
    call.write(view);
    call.write({ ...view, version: "8", name: "Groceries (renamed)" });
    call.end();
  },
};

describeWith(PYTHON_TOOL)("a strict Python client, through reflection alone", () => {
  let python: string;
  let testServer: TestServer;

  beforeAll(async () => {
    python = PYTHON_WITH_GRPC!;
    testServer = await startTestServer((server) => {
      addReflectionService(server, catalog, () => servedServices);
      server.addService(TodoListQueryServiceService, queries as unknown as grpc.UntypedServiceImplementation);
    });
  });

  afterAll(async () => {
    await testServer?.stop();
  });

  const client = (...args: string[]) => run(python, [CLIENT, testServer.address, ...args], { timeout: 30_000 });

  it("lists every service and its methods, having built every file", async () => {
    const { stdout } = await client("list");
    const listed = JSON.parse(stdout) as { services: Array<{ name: string; file: string; methods: Array<Record<string, unknown>> }> };
    assert.deepEqual(
      listed.services.map((service) => service.name),
      servedServices,
    );
    const queryService = listed.services.find((service) => service.name === "todo.v1.TodoListQueryService");
    assert.equal(queryService?.file, "todo/v1/queries.proto");
    assert.deepEqual(queryService.methods.find((method) => method.name === "WatchTodoList"), {
      name: "WatchTodoList",
      full_name: "todo.v1.TodoListQueryService/WatchTodoList",
      input_type: "todo.v1.WatchTodoList",
      output_type: "todo.v1.TodoListView",
      client_streaming: false,
      server_streaming: true,
    });
    const commands = listed.services.find((service) => service.name === "todo.v1.TodoListCommandService");
    assert.deepEqual(commands?.methods.map((method) => method.output_type), new Array(9).fill("recq.v1.CommandAck"));
  });

  it("lists through reflection v1alpha too", async () => {
    const { stdout } = await client("--reflection", "v1alpha", "list");
    assert.equal((JSON.parse(stdout) as { services: unknown[] }).services.length, servedServices.length);
  });

  it("calls a unary query with a JSON request and metadata, and prints the answer as JSON", async () => {
    const request = '{"list_id": "groceries"}';
    const { stdout } = await client("call", "todo.v1.TodoListQueryService/GetTodoList", request, "--metadata", "x-tenant=acme");
    assert.deepEqual(JSON.parse(stdout), {
      list_id: "groceries",
      name: "Groceries of acme",
      items: [{ item_id: "i1", text: "milk", completed: true }],
      item_count: 1,
      completed_count: 1,
      version: "7",
      created_at: "2024-01-02T03:04:05Z",
    });
  });

  it("calls a server-streaming query and prints one JSON line per message", async () => {
    const { stdout } = await client("call", "todo.v1.TodoListQueryService/WatchTodoList", '{"listId": "groceries"}');
    const versions = stdout.trim().split("\n").map((line) => (JSON.parse(line) as { version: string }).version);
    assert.deepEqual(versions, ["7", "8"]);
  });

  it("prints the status of a failed call to stderr and exits 3", async () => {
    await assert.rejects(client("call", "todo.v1.TodoListQueryService/GetTodoList", '{"list_id": "nope"}'), (error: ExecError) => {
      assert.equal(error.code, 3);
      assert.equal(error.stderr.trim(), "NOT_FOUND: no list nope");
      return true;
    });
  });

  it("exits 4 when reflection does not know the service", async () => {
    await assert.rejects(client("call", "todo.v1.NoSuchService/Get", "{}"), (error: ExecError) => {
      assert.equal(error.code, 4);
      assert.match(error.stderr, /reflection error 5: symbol "todo\.v1\.NoSuchService" not found/);
      return true;
    });
  });
});

describeWith(PYTHON_TOOL)("the strict Python client has teeth", () => {
  it("refuses a descriptor that lost its imports, as @grpc/reflection serves them", async () => {
    const python = PYTHON_WITH_GRPC!;
    const broken = withoutImports(catalog, "todo/v1/queries.proto");
    const testServer = await startTestServer((server) => addReflectionService(server, broken, () => servedServices));
    try {
      await assert.rejects(
        run(python, [CLIENT, testServer.address, "call", "todo.v1.TodoListQueryService/GetTodoList", "{}"], { timeout: 30_000 }),
        (error: ExecError) => {
          assert.equal(error.code, 4);
          assert.match(error.stderr, /todo\/v1\/queries\.proto does not build into a descriptor pool/);
          return true;
        },
      );
    } finally {
      await testServer.stop();
    }
  });
});

/** The catalog, but serving `fileName` with an empty dependency list (and without its dependencies). */
function withoutImports(original: DescriptorCatalog, fileName: string): DescriptorCatalog {
  const file = original.fileByName(fileName) as FileEntry;
  const proto = fromBinary(FileDescriptorProtoSchema, file.bytes);
  proto.dependency = [];
  const broken: FileEntry = { ...file, dependencies: [], bytes: Buffer.from(toBinary(FileDescriptorProtoSchema, proto)) };
  return {
    ...original,
    fileByName: (name) => (name === fileName ? broken : original.fileByName(name)),
    fileWithDependencies: (name) => (name === fileName ? [broken] : original.fileWithDependencies(name)),
  };
}

interface ExecError extends Error {
  code: number;
  stderr: string;
}
