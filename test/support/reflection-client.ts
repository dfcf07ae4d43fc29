// A gRPC client that knows nothing but a server's address, as grpcurl does: it learns the services and their
// messages from server reflection, and calls methods by JSON. It imports nothing of this repo (no generated
// code, no catalog), so a test that uses it checks what any reflection client would see, not what our own
// descriptors say.
import { create, createFileRegistry, fromBinary, fromJsonString, toBinary, toJson, ScalarType } from "@bufbuild/protobuf";
import type { DescEnum, DescField, DescMessage, DescMethod, DescService, FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";

/** Every call, and every reflection exchange, is bounded by this unless the caller gives a deadline. */
const DEFAULT_DEADLINE_MS = 10_000;

const REFLECTION_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

/** How a call ended. A failed call is a result (not a rejection), so a test can assert its status and trailers. */
export interface CallResult {
  /** The status is OK (for serverStream: or the client ended the call itself after `take` messages). */
  ok: boolean;
  /** The answer as protobuf JSON with proto field names (64-bit numbers as strings); unary calls only. */
  response?: unknown;
  /** The gRPC status code (grpc.status). */
  code: number;
  details: string;
  /** Response headers; several values of one key are joined by ", ", `-bin` values are base64. */
  headers: Record<string, string>;
  /** Response trailers, as headers (for example `recq-reason`). */
  trailers: Record<string, string>;
}

export interface JsonCallOptions {
  /** Request metadata; a `-bin` key takes a base64 value. */
  metadata?: Record<string, string>;
  /** Milliseconds from now until the call's deadline; 10 s by default. */
  deadlineMs?: number;
}

export interface JsonStreamOptions extends JsonCallOptions {
  /** How many messages to collect before cancelling the call (a positive integer). */
  take: number;
  /** Called with each message as it arrives (e.g. to act once a subscription's first view came). */
  onMessage?: (message: unknown, index: number) => void;
}

export type StreamResult = CallResult & { messages: unknown[] };

/** One method, as `describe` shows it: enough to assert names, types and streaming. */
export interface MethodDescription {
  kind: "method";
  /** The method's own name (`CreateTodoList`). */
  name: string;
  /** The service's full name (`todo.v1.TodoListCommandService`). */
  service: string;
  file: string;
  /** Full names of the input and output messages. */
  input: string;
  output: string;
  clientStreaming: boolean;
  serverStreaming: boolean;
}

export interface ServiceDescription {
  kind: "service";
  /** The full name. */
  name: string;
  file: string;
  methods: MethodDescription[];
}

export interface FieldDescription {
  name: string;
  number: number;
  jsonName: string;
  /** A scalar (`string`, `int64`), a message or enum's full name, or `map<key, value>`. */
  type: string;
  repeated: boolean;
  /** The oneof the field belongs to, if any. */
  oneof?: string;
}

export interface MessageDescription {
  kind: "message";
  name: string;
  file: string;
  fields: FieldDescription[];
}

export interface EnumDescription {
  kind: "enum";
  name: string;
  file: string;
  values: { name: string; number: number }[];
}

export type SymbolDescription = ServiceDescription | MethodDescription | MessageDescription | EnumDescription;

/**
 * Discovers a server's services by reflection (grpc.reflection.v1) and calls them by JSON, over plaintext.
 * The descriptors it fetches are kept for the life of the client; the list of services is asked each time,
 * since a server may add or remove services.
 */
export class ReflectionClient {
  private readonly client: grpc.Client;
  /** Every file descriptor fetched so far, by file name. */
  private readonly files = new Map<string, FileDescriptorProto>();
  /** Built from `files`; rebuilt only when a fetch brought new files. */
  private registry: FileRegistry | undefined;

  constructor(private readonly address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  /** The services the server lists, sorted, as `grpcurl list` prints them. */
  async listServices(): Promise<string[]> {
    const stream = this.openReflection();
    try {
      const answer = await stream.ask({ listServices: "*" });
      if (answer.kind === "error") throw this.reflectionError("list_services", answer);
      if (answer.kind !== "services") throw new Error(`reflection on ${this.address}: list_services got a ${answer.kind} answer`);
      return [...answer.names].sort();
    } finally {
      stream.end();
    }
  }

  /** A service, method (`pkg.Service.Method`), message or enum, from the server's descriptors. */
  async describe(symbol: string): Promise<SymbolDescription> {
    const name = withoutLeadingDot(symbol);
    const registry = await this.registryWith(name);
    const found = findSymbol(registry, name);
    if (found === undefined) throw new Error(`reflection on ${this.address}: "${name}" is known, but is not a service, method, message or enum`);
    switch (found.kind) {
      case "service":
        return describeService(found);
      case "rpc":
        return describeMethod(found);
      case "message":
        return describeMessage(found);
      case "enum":
        return describeEnum(found);
    }
  }

  /**
   * Calls a unary method (`pkg.Service/Method`) with a JSON request (proto or JSON field names). Resolves with
   * the status in every case; rejects only when the method or the JSON does not fit the server's descriptors.
   */
  async unary(method: string, json: object, options: JsonCallOptions = {}): Promise<CallResult> {
    const { desc, path, registry } = await this.resolveMethod(method, "unary");
    const request = encodeInput(desc, registry, json);
    return new Promise<CallResult>((resolve, reject) => {
      let headers: Record<string, string> = {};
      let error: grpc.ServiceError | undefined;
      let answer: Buffer | undefined;
      const call = this.client.makeUnaryRequest(
        path,
        toBuffer,
        asIs,
        request,
        toMetadata(options.metadata),
        { deadline: deadlineOf(options.deadlineMs) },
        (callError, value) => {
          error = callError ?? undefined;
          answer = value;
        },
      );
      call.on("metadata", (metadata: grpc.Metadata) => (headers = fromMetadata(metadata)));
      // grpc-js calls the callback before it emits "status", and only "status" has the trailers of a success.
      call.on("status", (status: grpc.StatusObject) => {
        if (error !== undefined || answer === undefined) {
          // The callback's error is the one to report: an OK status without a message is UNIMPLEMENTED to it.
          const code = error?.code ?? status.code;
          resolve({ ok: false, code, details: error?.details ?? status.details, headers, trailers: fromMetadata(error?.metadata ?? status.metadata) });
          return;
        }
        try {
          resolve({ ok: true, response: decodeOutput(desc, registry, answer), code: status.code, details: status.details, headers, trailers: fromMetadata(status.metadata) });
        } catch (decodeError: unknown) {
          reject(decodeError);
        }
      });
    });
  }

  /**
   * Calls a server-streaming method, collects `take` messages, then cancels the call, since a subscription
   * (WatchTodoList) never ends on its own. `ok` is true when the client ended it so (the code is then
   * CANCELLED, with no trailers) or when the server ended it with OK, maybe after fewer messages. A deadline
   * (10 s by default) bounds the wait for the messages: then `ok` is false and `messages` holds what came.
   */
  async serverStream(method: string, json: object, options: JsonStreamOptions): Promise<StreamResult> {
    if (!Number.isInteger(options.take) || options.take < 1) throw new RangeError(`take must be a positive integer, not ${options.take}`);
    const { desc, path, registry } = await this.resolveMethod(method, "server_streaming");
    const request = encodeInput(desc, registry, json);
    return new Promise<StreamResult>((resolve, reject) => {
      const messages: unknown[] = [];
      let headers: Record<string, string> = {};
      let status: grpc.StatusObject | undefined;
      let ended = false;
      let cancelledAfterTake = false;
      let decodeError: unknown;
      let settled = false;
      const call = this.client.makeServerStreamRequest(path, toBuffer, asIs, request, toMetadata(options.metadata), {
        deadline: deadlineOf(options.deadlineMs),
      });
      // Settles once the status is in and every message before it has been read: grpc-js emits "status" as it
      // pushes the end of the stream, before the messages still buffered have been emitted.
      const settle = (): void => {
        if (settled || status === undefined || !ended) return;
        settled = true;
        if (decodeError !== undefined) {
          reject(decodeError);
          return;
        }
        const ok = status.code === grpc.status.OK || cancelledAfterTake;
        resolve({ ok, messages, code: status.code, details: status.details, headers, trailers: fromMetadata(status.metadata) });
      };
      call.on("metadata", (metadata: grpc.Metadata) => (headers = fromMetadata(metadata)));
      call.on("data", (bytes: Buffer) => {
        if (messages.length >= options.take || decodeError !== undefined) return;
        try {
          messages.push(decodeOutput(desc, registry, bytes));
          options.onMessage?.(messages[messages.length - 1], messages.length - 1);
        } catch (error: unknown) {
          decodeError = error;
          call.cancel();
          return;
        }
        if (messages.length === options.take) {
          cancelledAfterTake = true;
          call.cancel();
        }
      });
      // A failed status is emitted as "error" too; "status" carries it, but an unheard "error" would throw.
      call.on("error", () => undefined);
      call.on("status", (received: grpc.StatusObject) => {
        status = received;
        settle();
      });
      const markEnded = (): void => {
        ended = true;
        settle();
      };
      call.on("end", markEnded);
      call.on("close", markEnded);
    });
  }

  /** Closes the channel; calls made afterwards fail. */
  close(): void {
    this.client.close();
  }

  /** The method's descriptor and wire path, from `pkg.Service/Method` (a leading "/" is allowed). */
  private async resolveMethod(method: string, kind: DescMethod["methodKind"]): Promise<{ desc: DescMethod; path: string; registry: FileRegistry }> {
    const match = /^\/?([^/]+)\/([^/]+)$/.exec(method);
    if (match === null) throw new Error(`method "${method}" is not of the form "package.Service/Method"`);
    const [, serviceName = "", methodName = ""] = match;
    const registry = await this.registryWith(serviceName);
    const service = registry.getService(serviceName);
    if (service === undefined) throw new Error(`reflection on ${this.address}: "${serviceName}" is not a service`);
    const desc = service.methods.find((candidate) => candidate.name === methodName);
    if (desc === undefined) {
      throw new Error(`reflection on ${this.address}: ${serviceName} has no method ${methodName} (it has ${service.methods.map((m) => m.name).join(", ")})`);
    }
    if (desc.methodKind !== kind) throw new Error(`${serviceName}/${methodName} is ${desc.methodKind}, not ${kind}`);
    return { desc, path: `/${serviceName}/${methodName}`, registry };
  }

  /**
   * The cached registry if it knows `symbol`; otherwise fetches the file declaring it and what that imports,
   * and rebuilds the registry if that brought new files. Throws when the server does not know the symbol.
   */
  private async registryWith(symbol: string): Promise<FileRegistry> {
    if (this.registry !== undefined && findSymbol(this.registry, symbol) !== undefined) return this.registry;
    const stream = this.openReflection();
    let added = false;
    try {
      const answer = await stream.ask({ fileContainingSymbol: symbol });
      if (answer.kind === "error") throw this.reflectionError(`file_containing_symbol "${symbol}"`, answer);
      if (answer.kind !== "files") throw new Error(`reflection on ${this.address}: file_containing_symbol "${symbol}" got a ${answer.kind} answer`);
      added = this.addFiles(answer.files) || added;
      // Servers may leave out the imports they think the client has (grpc-go does, per stream): ask for them.
      const asked = new Set<string>();
      for (let missing = this.missingImports(); missing.length > 0; missing = this.missingImports()) {
        for (const fileName of missing) {
          if (asked.has(fileName)) throw new Error(`reflection on ${this.address}: file_by_filename "${fileName}" did not return that file`);
          asked.add(fileName);
          const fileAnswer = await stream.ask({ fileByFilename: fileName });
          if (fileAnswer.kind === "error") throw this.reflectionError(`file_by_filename "${fileName}"`, fileAnswer);
          if (fileAnswer.kind !== "files") throw new Error(`reflection on ${this.address}: file_by_filename "${fileName}" got a ${fileAnswer.kind} answer`);
          added = this.addFiles(fileAnswer.files) || added;
        }
      }
    } finally {
      stream.end();
    }
    if (added || this.registry === undefined) this.registry = this.buildRegistry();
    // The server knew the symbol; the caller says what it needed it to be (a field is a symbol to reflection).
    return this.registry;
  }

  /** Decodes and keeps the files not seen before; true when there was one. */
  private addFiles(encoded: Uint8Array[]): boolean {
    let added = false;
    for (const bytes of encoded) {
      let file: FileDescriptorProto;
      try {
        file = fromBinary(FileDescriptorProtoSchema, bytes);
      } catch (error: unknown) {
        throw new Error(`reflection on ${this.address}: a file descriptor does not parse: ${messageOf(error)}`);
      }
      if (this.files.has(file.name)) continue;
      this.files.set(file.name, file);
      added = true;
    }
    return added;
  }

  private missingImports(): string[] {
    const missing = new Set<string>();
    for (const file of this.files.values()) for (const dependency of file.dependency) if (!this.files.has(dependency)) missing.add(dependency);
    return [...missing];
  }

  /** One registry of every file fetched, imports first, as createFileRegistry needs them. */
  private buildRegistry(): FileRegistry {
    const ordered: FileDescriptorProto[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (name: string, importer: string): void => {
      const file = this.files.get(name);
      if (file === undefined) throw new Error(`reflection on ${this.address}: ${name}, imported by ${importer}, was not returned`);
      const seen = state.get(name);
      if (seen === "done") return;
      if (seen === "visiting") throw new Error(`reflection on ${this.address}: import cycle through ${name}`);
      state.set(name, "visiting");
      for (const dependency of file.dependency) visit(dependency, name);
      state.set(name, "done");
      ordered.push(file);
    };
    for (const name of [...this.files.keys()].sort()) visit(name, "the client");
    try {
      return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
    } catch (error: unknown) {
      throw new Error(`reflection on ${this.address}: the descriptors do not build (${ordered.map((f) => f.name).join(", ")}): ${messageOf(error)}`);
    }
  }

  private openReflection(): ReflectionStream {
    return new ReflectionStream(this.client, this.address);
  }

  private reflectionError(request: string, answer: { code: number; message: string }): Error {
    return new Error(`reflection on ${this.address}: ${request}: ${statusName(answer.code)}: ${answer.message}`);
  }
}

type ReflectionRequest = { listServices: string } | { fileContainingSymbol: string } | { fileByFilename: string };

type ReflectionAnswer =
  | { kind: "files"; files: Uint8Array[] }
  | { kind: "services"; names: string[] }
  | { kind: "error"; code: number; message: string }
  | { kind: "other" };

/**
 * One ServerReflectionInfo stream, asked one request at a time. The server answers in order, so each answer
 * goes to the oldest waiting ask. A deadline bounds the whole exchange.
 */
class ReflectionStream {
  private readonly call: grpc.ClientDuplexStream<Uint8Array, Buffer>;
  private readonly waiting: { resolve(answer: ReflectionAnswer): void; reject(error: Error): void }[] = [];
  private failure: Error | undefined;

  constructor(client: grpc.Client, address: string) {
    this.call = client.makeBidiStreamRequest(REFLECTION_METHOD, toBuffer, asIs, new grpc.Metadata(), { deadline: deadlineOf(undefined) });
    this.call.on("data", (bytes: Buffer) => {
      const waiter = this.waiting.shift();
      if (waiter === undefined) return;
      try {
        waiter.resolve(decodeReflectionResponse(bytes));
      } catch (error: unknown) {
        waiter.reject(new Error(`reflection on ${address}: an answer does not parse: ${messageOf(error)}`));
      }
    });
    this.call.on("error", (error: grpc.ServiceError) => {
      this.fail(new Error(`reflection on ${address} failed: ${statusName(error.code)}: ${error.details}`));
    });
    this.call.on("end", () => this.fail(new Error(`reflection on ${address}: the server ended the stream before answering`)));
  }

  ask(request: ReflectionRequest): Promise<ReflectionAnswer> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<ReflectionAnswer>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.call.write(encodeReflectionRequest(request));
    });
  }

  /** Ends our side; the server then ends the stream. */
  end(): void {
    this.failure ??= new Error("reflection stream already ended");
    this.call.end();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }
}

// ServerReflectionRequest fields (grpc/reflection/v1/reflection.proto); only the requests this client makes.
const REQUEST_FILE_BY_FILENAME = 3;
const REQUEST_FILE_CONTAINING_SYMBOL = 4;
const REQUEST_LIST_SERVICES = 7;
// ServerReflectionResponse fields, and those of its answers.
const RESPONSE_FILE_DESCRIPTOR = 4;
const RESPONSE_LIST_SERVICES = 6;
const RESPONSE_ERROR = 7;
const FILE_DESCRIPTOR_PROTO = 1; // FileDescriptorResponse.file_descriptor_proto (repeated bytes)
const LIST_SERVICE = 1; // ListServiceResponse.service (repeated ServiceResponse)
const SERVICE_NAME = 1; // ServiceResponse.name
const ERROR_CODE = 1; // ErrorResponse.error_code
const ERROR_MESSAGE = 2; // ErrorResponse.error_message

/**
 * Written by hand rather than generated: the client must not depend on this repo's code, the few fields it
 * uses are fixed by the published protocol, and a hand-built descriptor would still need reflective access.
 */
function encodeReflectionRequest(request: ReflectionRequest): Uint8Array {
  const writer = new BinaryWriter();
  if ("listServices" in request) writer.tag(REQUEST_LIST_SERVICES, WireType.LengthDelimited).string(request.listServices);
  else if ("fileContainingSymbol" in request) writer.tag(REQUEST_FILE_CONTAINING_SYMBOL, WireType.LengthDelimited).string(request.fileContainingSymbol);
  else writer.tag(REQUEST_FILE_BY_FILENAME, WireType.LengthDelimited).string(request.fileByFilename);
  return writer.finish();
}

/** The message_response oneof; the last one on the wire wins, as protobuf's rule for a oneof says. */
function decodeReflectionResponse(bytes: Uint8Array): ReflectionAnswer {
  const answer = wireFields(bytes)
    .filter((field) => field.bytes !== undefined && [RESPONSE_FILE_DESCRIPTOR, RESPONSE_LIST_SERVICES, RESPONSE_ERROR].includes(field.number))
    .at(-1);
  const body = answer?.bytes ?? new Uint8Array();
  switch (answer?.number) {
    case RESPONSE_FILE_DESCRIPTOR:
      return { kind: "files", files: delimited(body, FILE_DESCRIPTOR_PROTO) };
    case RESPONSE_LIST_SERVICES:
      return { kind: "services", names: delimited(body, LIST_SERVICE).map((service) => utf8(delimited(service, SERVICE_NAME).at(-1))) };
    case RESPONSE_ERROR: {
      const code = wireFields(body).filter((field) => field.number === ERROR_CODE && field.varint !== undefined).at(-1)?.varint ?? 0;
      return { kind: "error", code, message: utf8(delimited(body, ERROR_MESSAGE).at(-1)) };
    }
    default:
      return { kind: "other" };
  }
}

/** One field on the wire: the bytes of a length-delimited one, or a varint read as int32 (error_code is one). */
interface WireField {
  number: number;
  bytes?: Uint8Array;
  varint?: number;
}

/** The fields of a message in wire order; fields of other wire types are skipped. */
function wireFields(bytes: Uint8Array): WireField[] {
  const reader = new BinaryReader(bytes);
  const fields: WireField[] = [];
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (wireType === WireType.LengthDelimited) fields.push({ number, bytes: reader.bytes() });
    else if (wireType === WireType.Varint) fields.push({ number, varint: reader.int32() });
    else reader.skip(wireType, number);
  }
  return fields;
}

/** Every value of a length-delimited field (a repeated one, or the occurrences of a singular one). */
function delimited(bytes: Uint8Array, number: number): Uint8Array[] {
  return wireFields(bytes).flatMap((field) => (field.number === number && field.bytes !== undefined ? [field.bytes] : []));
}

function utf8(bytes: Uint8Array | undefined): string {
  return bytes === undefined ? "" : new TextDecoder().decode(bytes);
}

function findSymbol(registry: FileRegistry, name: string): DescService | DescMethod | DescMessage | DescEnum | undefined {
  const found = registry.get(name);
  if (found !== undefined && found.kind !== "extension") return found;
  // A method is a symbol to reflection (`pkg.Service.Method`), but not a type in the registry.
  const dot = name.lastIndexOf(".");
  if (dot < 0) return undefined;
  return registry.getService(name.slice(0, dot))?.methods.find((method) => method.name === name.slice(dot + 1));
}

function describeService(service: DescService): ServiceDescription {
  return { kind: "service", name: service.typeName, file: service.file.proto.name, methods: service.methods.map(describeMethod) };
}

function describeMethod(method: DescMethod): MethodDescription {
  return {
    kind: "method",
    name: method.name,
    service: method.parent.typeName,
    file: method.parent.file.proto.name,
    input: method.input.typeName,
    output: method.output.typeName,
    clientStreaming: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    serverStreaming: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
  };
}

function describeMessage(message: DescMessage): MessageDescription {
  const fields = message.fields.map(
    (field): FieldDescription => ({
      name: field.name,
      number: field.number,
      jsonName: field.jsonName,
      type: fieldType(field),
      repeated: field.fieldKind === "list",
      ...(field.oneof === undefined ? {} : { oneof: field.oneof.name }),
    }),
  );
  return { kind: "message", name: message.typeName, file: message.file.proto.name, fields };
}

function describeEnum(descEnum: DescEnum): EnumDescription {
  return { kind: "enum", name: descEnum.typeName, file: descEnum.file.proto.name, values: descEnum.values.map(({ name, number }) => ({ name, number })) };
}

function fieldType(field: DescField): string {
  const value = field.message?.typeName ?? field.enum?.typeName ?? scalarName(field.scalar);
  return field.fieldKind === "map" ? `map<${scalarName(field.mapKey)}, ${value}>` : value;
}

function scalarName(scalar: ScalarType | undefined): string {
  return scalar === undefined ? "unknown" : ScalarType[scalar].toLowerCase();
}

/** JSON to binary with the method's input; the JSON round trip turns any object into plain JSON first. */
function encodeInput(method: DescMethod, registry: FileRegistry, json: object): Uint8Array {
  try {
    return toBinary(method.input, fromJsonString(method.input, JSON.stringify(json), { registry }));
  } catch (error: unknown) {
    throw new Error(`${method.parent.typeName}/${method.name}: the request does not fit ${method.input.typeName}: ${messageOf(error)}`);
  }
}

function decodeOutput(method: DescMethod, registry: FileRegistry, bytes: Uint8Array): unknown {
  try {
    return toJson(method.output, fromBinary(method.output, bytes), { useProtoFieldName: true, registry });
  } catch (error: unknown) {
    throw new Error(`${method.parent.typeName}/${method.name}: an answer does not parse as ${method.output.typeName}: ${messageOf(error)}`);
  }
}

/** The identity serializers: the messages are encoded and decoded here, with the fetched descriptors. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function asIs(bytes: Buffer): Buffer {
  return bytes;
}

function toMetadata(record: Record<string, string> = {}): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(record)) metadata.add(key, key.endsWith("-bin") ? Buffer.from(value, "base64") : value);
  return metadata;
}

function fromMetadata(metadata: grpc.Metadata): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    record[key] = values.map((value) => (typeof value === "string" ? value : value.toString("base64"))).join(", ");
  }
  return record;
}

function deadlineOf(deadlineMs: number | undefined): Date {
  return new Date(Date.now() + (deadlineMs ?? DEFAULT_DEADLINE_MS));
}

function statusName(code: number): string {
  const name: string | undefined = grpc.status[code];
  return name === undefined ? `status ${code}` : `${name} (${code})`;
}

function withoutLeadingDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
