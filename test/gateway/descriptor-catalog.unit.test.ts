import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  DescriptorProtoSchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FieldOptionsSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  FileOptionsSchema,
  type FileDescriptorSet,
} from "@bufbuild/protobuf/wkt";
import { InvalidDescriptorSetError, loadDescriptorCatalog } from "@recq-mesh/gateway";
import { gatewayDescriptorSet } from "@recq-mesh/gateway/internal/descriptors/gateway-descriptors";
import {
  fieldNamed,
  fileNamed,
  messageNamed,
  methodNamed,
  mutatedSet,
  readDescriptorSetBytes,
  serviceNamed,
} from "./descriptor-set-fixture";

const COMMANDS = "todo/v1/commands.proto";
const EVENTS = "todo/v1/events.proto";
/** What the gateway adds to every catalog: the services it serves itself, and their imports. */
const GATEWAY_FILES = fromBinary(FileDescriptorSetSchema, gatewayDescriptorSet()).file.map((file) => file.name);
const HEALTH = "grpc/health/v1/health.proto";
const QUERIES = "todo/v1/queries.proto";

describe("loadDescriptorCatalog, on the project's descriptor set", () => {
  const catalog = loadDescriptorCatalog(readDescriptorSetBytes());

  it("finds the domain services and only them", () => {
    assert.deepEqual(
      catalog.services.map((service) => [service.fullName, service.kind, service.aggregateType]),
      [
        ["todo.v1.TodoAttachmentCommandService", "command", "TodoList"],
        ["todo.v1.TodoAttachmentQueryService", "query", "todo.v1.TodoAttachmentQueryService"],
        ["todo.v1.TodoListCommandService", "command", "TodoList"],
        // A service (no routing key): its service events' aggregate type defaults to its full name.
        ["todo.v1.NotificationService", "command", "todo.v1.NotificationService"],
        ["todo.v1.TodoListQueryService", "query", "todo.v1.TodoListQueryService"],
      ],
    );
  });

  it("describes an upload: a client-streaming command, routed by its first message's routing key", () => {
    assert.deepEqual(catalog.methodByPath("/todo.v1.TodoAttachmentCommandService/AttachFile"), {
      path: "/todo.v1.TodoAttachmentCommandService/AttachFile",
      name: "todo.v1.TodoAttachmentCommandService/AttachFile",
      service: "todo.v1.TodoAttachmentCommandService",
      kind: "command",
      requestType: "todo.v1.AttachFile",
      responseType: "recq.v1.CommandAck",
      serverStreaming: false,
      clientStreaming: true,
      routingKey: { fieldNumber: 1, fieldName: "list_id" },
    });
    assert.equal(catalog.serviceByName("todo.v1.TodoAttachmentCommandService")?.aggregateType, "TodoList");
  });

  it("describes a command method with its routing key", () => {
    assert.deepEqual(catalog.methodByPath("/todo.v1.TodoListCommandService/CreateTodoList"), {
      path: "/todo.v1.TodoListCommandService/CreateTodoList",
      name: "todo.v1.TodoListCommandService/CreateTodoList",
      service: "todo.v1.TodoListCommandService",
      kind: "command",
      requestType: "todo.v1.CreateTodoList",
      responseType: "recq.v1.CommandAck",
      serverStreaming: false,
      clientStreaming: false,
      routingKey: { fieldNumber: 1, fieldName: "list_id" },
    });
    const commands = catalog.serviceByName("todo.v1.TodoListCommandService");
    assert.equal(commands?.methods.length, 9);
    assert.ok(commands.methods.every((method) => method.routingKey?.fieldName === "list_id"));
  });

  it("describes query methods, unary and server-streaming, without routing keys", () => {
    const get = catalog.methodByPath("/todo.v1.TodoListQueryService/GetTodoList");
    assert.equal(get?.responseType, "todo.v1.TodoListView");
    assert.equal(get.serverStreaming, false);
    assert.equal(get.routingKey, undefined);
    assert.equal(catalog.methodByPath("/todo.v1.TodoListQueryService/WatchTodoList")?.serverStreaming, true);
  });

  it("answers undefined for paths and names it does not serve", () => {
    assert.equal(catalog.methodByPath("/grpc.health.v1.Health/Check"), undefined);
    assert.equal(catalog.methodByPath("todo.v1.TodoListCommandService/CreateTodoList"), undefined);
    assert.equal(catalog.serviceByName("recq.v1.HandlerLinkService"), undefined);
    assert.equal(catalog.fileByName("nope.proto"), undefined);
    assert.equal(catalog.fileWithDependencies("nope.proto"), undefined);
  });

  it("keeps every file's bytes exactly as in the set, and adds the gateway's own services after them", () => {
    const setBytes = readDescriptorSetBytes();
    const decoded = fromBinary(FileDescriptorSetSchema, setBytes);
    assert.deepEqual(
      catalog.files.map((file) => file.name),
      [...decoded.file.map((file) => file.name), ...GATEWAY_FILES.filter((name) => !decoded.file.some((file) => file.name === name))],
    );
    // Re-framing the slices of the set's own files as field 1 must give back the very same set.
    const writer = new BinaryWriter();
    for (const file of catalog.files.slice(0, decoded.file.length)) writer.tag(1, WireType.LengthDelimited).bytes(file.bytes);
    assert.ok(Buffer.from(writer.finish()).equals(setBytes));
    const commands = catalog.fileByName(COMMANDS);
    assert.equal(fromBinary(FileDescriptorProtoSchema, commands?.bytes ?? Buffer.alloc(0)).name, COMMANDS);
  });

  it("lists a file's transitive dependencies first and the file last", () => {
    const names = catalog.fileWithDependencies(QUERIES)?.map((file) => file.name);
    assert.deepEqual(names, ["google/protobuf/timestamp.proto", "google/protobuf/descriptor.proto", "recq/v1/options.proto", QUERIES]);
  });
});

describe("loadDescriptorCatalog, on several descriptor sets", () => {
  /** The project's set cut in two: `first` keeps the named files, the second set the others. */
  function splitSet(first: readonly string[]): [Uint8Array, Uint8Array] {
    const set = fromBinary(FileDescriptorSetSchema, readDescriptorSetBytes());
    const part = (keep: boolean) =>
      toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: set.file.filter((file) => first.includes(file.name) === keep) }));
    return [part(true), part(false)];
  }

  it("serves the services of every set, each file once, whichever set carries a file's imports", () => {
    // The first set holds the commands and events but not what they import: the second set carries that.
    const [domain, rest] = splitSet([COMMANDS, EVENTS]);
    const catalog = loadDescriptorCatalog(domain, rest);
    assert.deepEqual(
      catalog.services.map((service) => service.fullName),
      ["todo.v1.TodoListCommandService", "todo.v1.TodoAttachmentCommandService", "todo.v1.TodoAttachmentQueryService", "todo.v1.NotificationService", "todo.v1.TodoListQueryService"],
    );
    const names = catalog.files.map((file) => file.name);
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.indexOf("recq/v1/command.proto") < names.indexOf(COMMANDS), "a file comes after its imports");
    assert.ok(GATEWAY_FILES.every((name) => names.includes(name)));
    assert.ok(names.includes("recq/v1/link.proto") && names.includes(HEALTH), "the link protocol and health are described");
  });

  it("keeps a set's own copy of a file the gateway would add", () => {
    const own = fromBinary(FileDescriptorSetSchema, gatewayDescriptorSet());
    const health = own.file.find((file) => file.name === HEALTH);
    assert.ok(health);
    const changed = clone(FileDescriptorProtoSchema, health);
    changed.options = create(FileOptionsSchema, { javaPackage: "com.example.health" });
    const userSet = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: [changed] }));
    const catalog = loadDescriptorCatalog(readDescriptorSetBytes(), userSet);
    const served = fromBinary(FileDescriptorProtoSchema, catalog.fileByName(HEALTH)?.bytes ?? Buffer.alloc(0));
    assert.equal(served.options?.javaPackage, "com.example.health");
  });

  it("refuses two sets that disagree on a file, naming it", () => {
    const changed = mutatedSet((set) => {
      messageNamed(fileNamed(set, COMMANDS), "CreateTodoList").field.push(stringField("note", 99));
    });
    assertRefused2([readDescriptorSetBytes(), changed], /todo\/v1\/commands\.proto differs between the descriptor sets/);
  });

  it("refuses no set at all, and names which set is not a descriptor set", () => {
    assert.throws(() => loadDescriptorCatalog(), /no descriptor set given/);
    assertRefused2([readDescriptorSetBytes(), Buffer.from([0xff, 0xff, 0xff])], /descriptor set 2: the bytes are not a FileDescriptorSet/);
  });

  function assertRefused2(sets: Uint8Array[], expected: RegExp): void {
    assert.throws(
      () => loadDescriptorCatalog(...sets),
      (error: unknown) => error instanceof InvalidDescriptorSetError && expected.test(error.message),
    );
  }
});

describe("loadDescriptorCatalog refuses contracts the gateway cannot serve", () => {
  it("refuses client-streaming queries: only a command may stream its request", () => {
    const bytes = mutatedSet((set) => {
      methodNamed(serviceNamed(fileNamed(set, QUERIES), "TodoListQueryService"), "GetTodoList").clientStreaming = true;
    });
    assertRefused(bytes, /query todo\.v1\.TodoListQueryService\/GetTodoList is client-streaming; only a command may stream its request/);
  });

  it("refuses a client-streaming command whose request marks no routing key", () => {
    const bytes = mutatedSet((set) => {
      methodNamed(serviceNamed(fileNamed(set, COMMANDS), "TodoListCommandService"), "CreateTodoList").clientStreaming = true;
      fieldNamed(messageNamed(fileNamed(set, COMMANDS), "CreateTodoList"), "list_id").options = undefined;
    });
    assertRefused(bytes, /command todo\.v1\.TodoListCommandService\/CreateTodoList is client-streaming \(an upload\); its request todo\.v1\.CreateTodoList must mark a \(recq\.v1\.routing_key\)/);
  });

  it("refuses bidi-streaming methods, in query services too", () => {
    const bytes = mutatedSet((set) => {
      const method = methodNamed(serviceNamed(fileNamed(set, QUERIES), "TodoListQueryService"), "WatchTodoList");
      method.clientStreaming = true;
    });
    assertRefused(bytes, /WatchTodoList is bidi-streaming/);
  });

  it("refuses server-streaming commands", () => {
    const bytes = mutatedSet((set) => {
      methodNamed(serviceNamed(fileNamed(set, COMMANDS), "TodoListCommandService"), "DeleteTodoList").serverStreaming = true;
    });
    assertRefused(bytes, /command todo\.v1\.TodoListCommandService\/DeleteTodoList is server-streaming/);
  });

  it("refuses a command that does not return recq.v1.CommandAck", () => {
    const bytes = mutatedSet((set) => {
      methodNamed(serviceNamed(fileNamed(set, COMMANDS), "TodoListCommandService"), "RenameTodoList").outputType = ".todo.v1.CreateTodoList";
    });
    assertRefused(bytes, /command todo\.v1\.TodoListCommandService\/RenameTodoList returns todo\.v1\.CreateTodoList; every command must return recq\.v1\.CommandAck/);
  });

  it("refuses a routing key that is not a string", () => {
    const bytes = mutatedSet((set) => {
      fieldNamed(messageNamed(fileNamed(set, COMMANDS), "CreateTodoList"), "list_id").type = FieldDescriptorProto_Type.INT64;
    });
    assertRefused(bytes, /todo\.v1\.CreateTodoList: routing key list_id is a singular int64; a routing key must be a singular string field/);
  });

  it("refuses a repeated routing key", () => {
    const bytes = mutatedSet((set) => {
      fieldNamed(messageNamed(fileNamed(set, COMMANDS), "AddTodoItem"), "list_id").label = FieldDescriptorProto_Label.REPEATED;
    });
    assertRefused(bytes, /todo\.v1\.AddTodoItem: routing key list_id is a repeated field/);
  });

  it("refuses two routing keys in one message", () => {
    const bytes = mutatedSet((set) => {
      const message = messageNamed(fileNamed(set, COMMANDS), "RemoveTodoItem");
      markAsRoutingKey(fieldNamed(message, "item_id"), routingKeyOptions(set));
    });
    assertRefused(bytes, /todo\.v1\.RemoveTodoItem marks 2 fields as \(recq\.v1\.routing_key\) \(list_id, item_id\); at most one is allowed/);
  });

  it("refuses a routing key inside a nested message", () => {
    const bytes = mutatedSet((set) => {
      const message = messageNamed(fileNamed(set, COMMANDS), "DeleteTodoList");
      const inner = create(DescriptorProtoSchema, { name: "Reason" });
      inner.field.push(stringField("code", 1));
      markAsRoutingKey(inner.field[0]!, routingKeyOptions(set));
      message.nestedType.push(inner);
      message.field.push(
        create(FieldDescriptorProtoSchema, {
          name: "reason",
          jsonName: "reason",
          number: 2,
          label: FieldDescriptorProto_Label.OPTIONAL,
          type: FieldDescriptorProto_Type.MESSAGE,
          typeName: ".todo.v1.DeleteTodoList.Reason",
        }),
      );
    });
    assertRefused(bytes, /field todo\.v1\.DeleteTodoList\.Reason\.code is marked \(recq\.v1\.routing_key\) inside a nested message/);
  });

  it("refuses a service kind other than COMMAND or QUERY", () => {
    const bytes = mutatedSet((set) => {
      const options = serviceNamed(fileNamed(set, QUERIES), "TodoListQueryService").options;
      const unknownFields = options?.$unknown ?? [];
      assert.ok(options && unknownFields.some((field) => field.no === 50701), "the query service carries (recq.v1.service_kind)");
      options.$unknown = unknownFields.map((field) => (field.no === 50701 ? { ...field, data: Uint8Array.of(7) } : field));
    });
    assertRefused(bytes, /service todo\.v1\.TodoListQueryService: \(recq\.v1\.service_kind\) is 7; it must be SERVICE_KIND_COMMAND or SERVICE_KIND_QUERY/);
  });

  it("lists every problem at once", () => {
    const bytes = mutatedSet((set) => {
      const service = serviceNamed(fileNamed(set, COMMANDS), "TodoListCommandService");
      methodNamed(service, "CreateTodoList").clientStreaming = true;
      methodNamed(service, "CreateTodoList").serverStreaming = true;
      methodNamed(service, "RenameTodoList").outputType = ".todo.v1.CreateTodoList";
    });
    const error = refusal(bytes);
    assert.equal(error.problems.length, 2);
  });

  it("reports one problem once, even when several commands share the message", () => {
    const bytes = mutatedSet((set) => {
      fieldNamed(messageNamed(fileNamed(set, COMMANDS), "CreateTodoList"), "list_id").type = FieldDescriptorProto_Type.BYTES;
      const service = serviceNamed(fileNamed(set, COMMANDS), "TodoListCommandService");
      methodNamed(service, "RenameTodoList").inputType = ".todo.v1.CreateTodoList";
    });
    assert.equal(refusal(bytes).problems.length, 1);
  });

  it("refuses bytes that are not a descriptor set", () => {
    assertRefused(Buffer.from([0x0a, 0x05, 0x01]), /not a FileDescriptorSet/);
  });

  it("refuses a set with a missing import (one the gateway's own descriptor set does not carry either)", () => {
    const bytes = mutatedSet((set) => {
      set.file = set.file.filter((file) => file.name !== "recq/v1/options.proto");
    });
    assertRefused(bytes, /do not resolve/);
  });

  it("defaults the aggregate type to the service's full name", () => {
    const bytes = mutatedSet((set) => {
      const options = serviceNamed(fileNamed(set, COMMANDS), "TodoListCommandService").options;
      // Drop (recq.v1.aggregate_type) = 50702 and keep (recq.v1.service_kind).
      if (options?.$unknown) options.$unknown = options.$unknown.filter((field) => field.no !== 50702);
    });
    const catalog = loadDescriptorCatalog(bytes);
    assert.equal(catalog.serviceByName("todo.v1.TodoListCommandService")?.aggregateType, "todo.v1.TodoListCommandService");
  });
});

function refusal(bytes: Uint8Array): InvalidDescriptorSetError {
  try {
    loadDescriptorCatalog(bytes);
  } catch (error: unknown) {
    assert.ok(error instanceof InvalidDescriptorSetError, `expected InvalidDescriptorSetError, got ${String(error)}`);
    return error;
  }
  assert.fail("the catalog loaded a set it should refuse");
}

function assertRefused(bytes: Uint8Array, expected: RegExp): void {
  const error = refusal(bytes);
  assert.match(error.message, expected);
}

/** The options of a field already marked `[(recq.v1.routing_key) = true]`, to copy onto another field. */
function routingKeyOptions(set: FileDescriptorSet) {
  const options = fieldNamed(messageNamed(fileNamed(set, COMMANDS), "CreateTodoList"), "list_id").options;
  assert.ok(options);
  return options;
}

function markAsRoutingKey(field: ReturnType<typeof stringField>, options: ReturnType<typeof routingKeyOptions>): void {
  field.options = clone(FieldOptionsSchema, options);
}

function stringField(name: string, number: number) {
  return create(FieldDescriptorProtoSchema, {
    name,
    jsonName: name,
    number,
    label: FieldDescriptorProto_Label.OPTIONAL,
    type: FieldDescriptorProto_Type.STRING,
  });
}
