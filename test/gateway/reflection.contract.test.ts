import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import * as grpc from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  ServerReflectionClient,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "@recq-mesh/gateway/gen/grpc/reflection/v1/reflection";
import { loadDescriptorCatalog } from "@recq-mesh/gateway";
import {
  addReflectionService,
  REFLECTION_V1_SERVICE_NAME,
  ServerReflectionV1AlphaService,
} from "@recq-mesh/gateway/internal/reflection/reflection-service";
import { readDescriptorSetBytes } from "./descriptor-set-fixture";
import { startTestServer, type TestServer } from "./grpc-test-server";

type MessageRequest = NonNullable<ServerReflectionRequest["messageRequest"]>;
type ReflectionStream = grpc.ClientDuplexStream<ServerReflectionRequest, ServerReflectionResponse>;

const ServerReflectionV1AlphaClient = grpc.makeGenericClientConstructor(
  ServerReflectionV1AlphaService,
  "grpc.reflection.v1alpha.ServerReflection",
) as unknown as typeof ServerReflectionClient;

const catalog = loadDescriptorCatalog(readDescriptorSetBytes());
let served = ["todo.v1.TodoListCommandService", "todo.v1.TodoListQueryService", REFLECTION_V1_SERVICE_NAME];

describe("reflection service", () => {
  let testServer: TestServer;
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    testServer = await startTestServer((server) => addReflectionService(server, catalog, () => served));
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await testServer.stop();
  });

  const versions = [
    ["v1", ServerReflectionClient],
    ["v1alpha", ServerReflectionV1AlphaClient],
  ] as const;

  for (const [version, Client] of versions) {
    describe(version, () => {
      const open = (): ReflectionStream => {
        const client = new Client(testServer.address, grpc.credentials.createInsecure());
        clients.push(client);
        return client.serverReflectionInfo();
      };

      it("lists the services served at the moment of the request", async () => {
        const [before] = await ask(open(), [{ $case: "listServices", value: "" }]);
        assert.deepEqual(listed(before), served);
        served = [...served, "grpc.health.v1.Health"];
        const [later] = await ask(open(), [{ $case: "listServices", value: "*" }]);
        assert.deepEqual(listed(later), served);
        served = served.slice(0, -1);
      });

      it("answers several requests on one stream, in order, echoing each request", async () => {
        const requests: MessageRequest[] = [
          { $case: "fileContainingSymbol", value: "todo.v1.TodoListCommandService" },
          { $case: "fileByFilename", value: "recq/v1/options.proto" },
          { $case: "fileContainingSymbol", value: "no.such.Symbol" },
          { $case: "listServices", value: "" },
        ];
        const answers = await ask(open(), requests, "mesh.example");
        assert.deepEqual(
          answers.map((answer) => answer.messageResponse?.$case),
          ["fileDescriptorResponse", "fileDescriptorResponse", "errorResponse", "listServicesResponse"],
        );
        answers.forEach((answer, index) => {
          assert.equal(answer.validHost, "mesh.example");
          assert.deepEqual(answer.originalRequest?.messageRequest, requests[index]);
        });
      });

      it("serves a service's file first, then its transitive dependencies, original bytes", async () => {
        const [answer] = await ask(open(), [{ $case: "fileContainingSymbol", value: "todo.v1.TodoListCommandService" }]);
        const files = fileBytes(answer);
        assert.deepEqual(
          files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name),
          ["todo/v1/commands.proto", "recq/v1/command.proto", "google/protobuf/descriptor.proto", "recq/v1/options.proto"],
        );
        files.forEach((bytes) => {
          const name = fromBinary(FileDescriptorProtoSchema, bytes).name;
          assert.ok(bytes.equals(catalog.fileByName(name)?.bytes ?? Buffer.alloc(0)), `${name} is served byte for byte`);
        });
      });

      const symbols: Array<[string, string]> = [
        ["todo.v1.TodoListQueryService", "todo/v1/queries.proto"],
        ["todo.v1.TodoListQueryService.WatchTodoList", "todo/v1/queries.proto"],
        ["todo.v1.TodoListView", "todo/v1/queries.proto"],
        [".todo.v1.TodoItemView", "todo/v1/queries.proto"],
        ["todo.v1.Completion", "todo/v1/queries.proto"],
        ["todo.v1.COMPLETION_COMPLETE", "todo/v1/queries.proto"],
        ["todo.v1.TodoListView.created_at", "todo/v1/queries.proto"],
        ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
        ["grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", "grpc/health/v1/health.proto"],
        ["grpc.health.v1.HealthListResponse.StatusesEntry", "grpc/health/v1/health.proto"],
        ["recq.v1.routing_key", "recq/v1/options.proto"],
        ["recq.v1.CommandAck", "recq/v1/command.proto"],
        ["google.protobuf.Timestamp", "google/protobuf/timestamp.proto"],
        ["grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto"],
      ];
      for (const [symbol, file] of symbols) {
        it(`finds ${symbol} in ${file}`, async () => {
          const [answer] = await ask(open(), [{ $case: "fileContainingSymbol", value: symbol }]);
          const names = fileBytes(answer).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
          assert.equal(names[0], file, "the requested file comes first");
          assertEachDependencyOnce(names);
        });
      }

      it("serves a file by name with its dependencies", async () => {
        const [answer] = await ask(open(), [{ $case: "fileByFilename", value: "todo/v1/queries.proto" }]);
        const names = fileBytes(answer).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
        assert.deepEqual(names, [
          "todo/v1/queries.proto",
          "google/protobuf/timestamp.proto",
          "google/protobuf/descriptor.proto",
          "recq/v1/options.proto",
        ]);
        assertEachDependencyOnce(names);
      });

      it("finds the file of an extension, and the extension numbers of a type", async () => {
        const [extension, numbers, none] = await ask(open(), [
          { $case: "fileContainingExtension", value: { containingType: "google.protobuf.ServiceOptions", extensionNumber: 50702 } },
          { $case: "allExtensionNumbersOfType", value: "google.protobuf.ServiceOptions" },
          { $case: "allExtensionNumbersOfType", value: "recq.v1.CommandAck" },
        ]);
        const extensionFiles = fileBytes(extension).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
        assert.deepEqual(extensionFiles, ["recq/v1/options.proto", "google/protobuf/descriptor.proto"]);
        assert.deepEqual(numbers?.messageResponse, {
          $case: "allExtensionNumbersResponse",
          value: { baseTypeName: "google.protobuf.ServiceOptions", extensionNumber: [50701, 50702] },
        });
        assert.deepEqual(none?.messageResponse, {
          $case: "allExtensionNumbersResponse",
          value: { baseTypeName: "recq.v1.CommandAck", extensionNumber: [] },
        });
      });

      it("answers NOT_FOUND for what it does not know, and keeps the stream open", async () => {
        const answers = await ask(open(), [
          { $case: "fileContainingSymbol", value: "todo.v1.Nope" },
          { $case: "fileByFilename", value: "nope.proto" },
          { $case: "fileContainingExtension", value: { containingType: "google.protobuf.ServiceOptions", extensionNumber: 1 } },
          { $case: "allExtensionNumbersOfType", value: "no.Such" },
          { $case: "listServices", value: "" },
        ]);
        const errors = answers.slice(0, 4).map((answer) => answer.messageResponse);
        for (const error of errors) {
          assert.equal(error?.$case, "errorResponse");
          assert.equal(error.value.errorCode, grpc.status.NOT_FOUND);
        }
        assert.deepEqual(errors[0]?.$case === "errorResponse" && errors[0].value.errorMessage, 'symbol "todo.v1.Nope" not found');
        assert.equal(answers[4]?.messageResponse?.$case, "listServicesResponse");
      });

      it("answers INVALID_ARGUMENT to a request without a message_request", async () => {
        const [answer] = await askRaw(open(), [{ host: "", messageRequest: undefined }]);
        assert.deepEqual(answer?.messageResponse, {
          $case: "errorResponse",
          value: { errorCode: grpc.status.INVALID_ARGUMENT, errorMessage: "the request sets no message_request" },
        });
      });
    });
  }
});

/** Sends the requests on one stream, ends it, and collects the answers until the server ends the stream. */
function ask(stream: ReflectionStream, requests: MessageRequest[], host = ""): Promise<ServerReflectionResponse[]> {
  return askRaw(
    stream,
    requests.map((messageRequest) => ({ host, messageRequest })),
  );
}

function askRaw(stream: ReflectionStream, requests: ServerReflectionRequest[]): Promise<ServerReflectionResponse[]> {
  return new Promise((resolve, reject) => {
    const answers: ServerReflectionResponse[] = [];
    stream.on("data", (answer: ServerReflectionResponse) => answers.push(answer));
    stream.on("error", reject);
    stream.on("end", () => resolve(answers));
    for (const request of requests) stream.write(request);
    stream.end();
  });
}

function listed(answer: ServerReflectionResponse | undefined): string[] {
  assert.equal(answer?.messageResponse?.$case, "listServicesResponse");
  return answer.messageResponse.value.service.map((service) => service.name);
}

/** The answer holds the first file's transitive imports, every one exactly once, and nothing else. */
function assertEachDependencyOnce(names: readonly string[]): void {
  const [requested] = names;
  assert.ok(requested !== undefined);
  const expected = new Set<string>();
  const visit = (name: string): void => {
    if (expected.has(name)) return;
    expected.add(name);
    for (const dependency of catalog.fileByName(name)?.dependencies ?? []) visit(dependency);
  };
  visit(requested);
  assert.equal(new Set(names).size, names.length, `no file twice: ${names.join(", ")}`);
  assert.deepEqual([...names].sort(), [...expected].sort());
}

function fileBytes(answer: ServerReflectionResponse | undefined): Buffer[] {
  assert.equal(answer?.messageResponse?.$case, "fileDescriptorResponse", JSON.stringify(answer?.messageResponse));
  return answer.messageResponse.value.fileDescriptorProto;
}
