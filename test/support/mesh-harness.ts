import { afterAll, beforeAll } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { credentials, Metadata, type CallOptions, type ChannelCredentials, type Client, type ServiceError } from "@grpc/grpc-js";
import { MeshService, EmbeddedViewStore, TracedViewStore, type MeshServiceOptions, type BlobStore } from "@recq-mesh/kit";
import { loadDescriptorCatalog, type DescriptorCatalog, Gateway, type GatewayOptions, EmbeddedCommandInbox, EmbeddedEventStore, EmbeddedParkedEventStore } from "@recq-mesh/gateway";
import { DEFAULT_MAX_ATTACHMENT_BYTES, todoAttachmentAggregate, todoAttachmentQueries, todoListAggregate, todoListProjection, todoListQueries } from "@recq-mesh/todo";
import { TODO_DESCRIPTORS } from "./built-packages";
import { TodoListCommandServiceClient } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoListQueryServiceClient, TodoListQueryServiceService } from "@recq-mesh/todo/gen/todo/v1/queries";

let catalog: DescriptorCatalog | undefined;

/** The catalog of the TodoList contracts, from the descriptor set the build writes (TODO_DESCRIPTORS). */
export function testCatalog(): DescriptorCatalog {
  catalog ??= loadDescriptorCatalog(readFileSync(TODO_DESCRIPTORS));
  return catalog;
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `recq-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface RunningGateway {
  gateway: Gateway;
  store: EmbeddedEventStore;
  address: string;
}

/**
 * A real gateway on 127.0.0.1, port 0 unless given, on an embedded store (and accepted-command inbox, and parked-event
 * store) in `dataDir`.
 */
export async function startGateway(dataDir: string, options: Partial<GatewayOptions> & { port?: number } = {}): Promise<RunningGateway> {
  const store = await EmbeddedEventStore.open({ directory: dataDir });
  const inbox = await EmbeddedCommandInbox.open({ directory: dataDir });
  // A test that looks into the parked-event store while the gateway runs passes its own.
  const parkedEvents = options.parkedEvents ?? (await EmbeddedParkedEventStore.open({ directory: dataDir }));
  const gateway = await Gateway.start({
    catalog: testCatalog(),
    store,
    inbox,
    parkedEvents,
    ...options,
    address: `127.0.0.1:${options.port ?? 0}`,
    limits: { shutdownGraceMs: 500, ...options.limits },
  });
  return { gateway, store, address: `127.0.0.1:${gateway.port}` };
}

/** A suite's gateway on its own data folder with TodoList clients, as a suite's beforeAll / afterAll set them up. */
export interface SuiteGateway {
  readonly mesh: RunningGateway;
  readonly clients: ReturnType<typeof todoClients>;
}

/**
 * Starts a gateway (on a fresh data folder, with `options`) before the suite's tests and stops it after them; the
 * returned object's fields are set once the suite runs. Call it in a `describe` body.
 */
export function gatewayForSuite(prefix: string, options: Partial<GatewayOptions> = {}): SuiteGateway {
  const suite = {} as { mesh: RunningGateway; clients: ReturnType<typeof todoClients>; data: Awaited<ReturnType<typeof tempDir>> };
  beforeAll(async () => {
    suite.data = await tempDir(prefix);
    suite.mesh = await startGateway(suite.data.dir, options);
    suite.clients = todoClients(suite.mesh.address);
  });
  afterAll(async () => {
    suite.clients?.close();
    await suite.mesh?.gateway.stop();
    await suite.data?.remove();
  });
  return suite;
}

export interface RunningTodo {
  mesh: MeshService;
  views: EmbeddedViewStore;
}

/** The TodoList service (aggregate, projection, queries) in this process, linked to the gateway. */
export async function startTodo(
  address: string,
  options: { instanceId?: string; roles?: ("commands" | "views")[]; credentials?: string; tls?: MeshServiceOptions["tls"] } = {},
): Promise<RunningTodo> {
  const roles = new Set(options.roles ?? ["commands", "views"]);
  const mesh = new MeshService({ address, component: "todo", instanceId: options.instanceId, credentials: options.credentials, tls: options.tls });
  const views = new EmbeddedViewStore();
  const projection = todoListProjection(views, "instance");
  if (roles.has("commands")) mesh.addAggregate(todoListAggregate);
  if (roles.has("views")) mesh.addProjection(projection).addQueries(todoListQueries(new TracedViewStore(views), projection));
  await mesh.start();
  return { mesh, views };
}

/** The whole TodoList service, attachments included (their content in `blobs`), in this process, linked to the gateway. */
export async function startTodoWithAttachments(
  address: string,
  blobs: BlobStore,
  options: { maxAttachmentBytes?: number; downloadChunkBytes?: number } = {},
): Promise<MeshService> {
  const mesh = new MeshService({ address, component: "todo", blobs });
  const views = new EmbeddedViewStore();
  const projection = todoListProjection(views, "instance");
  mesh.addAggregate(todoListAggregate).addAggregate(todoAttachmentAggregate({ maxAttachmentBytes: options.maxAttachmentBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES }));
  mesh.addProjection(projection).addQueries(todoListQueries(views, projection)).addQueries(todoAttachmentQueries(views, blobs, projection, { downloadChunkBytes: options.downloadChunkBytes ?? 256 * 1024 }));
  await mesh.start();
  return mesh;
}

export function todoClients(address: string, channel: ChannelCredentials = credentials.createInsecure()) {
  const commands = new TodoListCommandServiceClient(address, channel);
  const queries = new TodoListQueryServiceClient(address, channel);
  return { commands, queries, close: () => (commands.close(), queries.close()) };
}

type UnaryMethod<Req, Res> = (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (error: ServiceError | null, response: Res) => void) => unknown;

/** Promisifies one unary call of a generated client, with metadata and a deadline (default 5 s). */
export function call<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  metadata: Record<string, string> = {},
  deadlineMs = 5_000,
): Promise<Res> {
  const md = new Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  return new Promise((resolve, reject) =>
    method.call(client, request, md, { deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response))),
  );
}

/** The status of a call that must fail. */
export async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error("the call succeeded, but it should have failed");
}

export async function eventually<T>(probe: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Closes handler services as a crash would, and waits until the gateway has dropped their links. */
export async function closeHandlers(gateway: Gateway, meshes: MeshService[]): Promise<void> {
  for (const mesh of meshes.splice(0)) mesh.close();
  await eventually(async () => {
    if (gateway.handlerLinkCount !== 0) throw new Error(`${gateway.handlerLinkCount} handler links still open`);
  });
}

/** A query service whose GetTodoList never answers: for deadlines, limits and cancellation. */
export async function startHangingQueries(address: string, component: string): Promise<MeshService> {
  const mesh = new MeshService({ address, component });
  mesh.addQueries({
    service: TodoListQueryServiceService,
    handlers: {
      getTodoList: () => new Promise(() => undefined),
      listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
      watchTodoList: async () => undefined,
    },
  });
  await mesh.start();
  return mesh;
}
