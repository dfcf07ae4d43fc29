import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import * as grpc from "@grpc/grpc-js";
import { EmbeddedViewStore, MeshService, silentLogger, type MeshError, TracedViewStore, type LinkTlsOptions } from "@recq-mesh/kit";
import { ConsumeRequest, HandlerLinkServiceClient, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { CertificateFiles } from "@recq-mesh/gateway/internal/security/certificate-files";
import { ComponentAuthorization } from "@recq-mesh/gateway/internal/security/component-authorization";
import { parseSecurityPolicy } from "@recq-mesh/gateway/internal/security/security-policy";
import { todoListAggregate, todoListProjection, todoListQueries } from "@recq-mesh/todo";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { call, eventually, failure, startGateway, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";
import { issueCertificate, makeCa } from "../support/test-certificates";

const COMMANDS = "todo.v1.TodoListCommandService";
const GET = "todo.v1.TodoListQueryService/GetTodoList";

/** The TodoList service with both roles, as one component; `start()` is left to the test. */
function todoService(address: string, component: string, credentials: string, tls?: LinkTlsOptions): MeshService {
  const views = new EmbeddedViewStore();
  const projection = todoListProjection(views, "shared");
  return new MeshService({ address, component, credentials, tls }).addAggregate(todoListAggregate).addProjection(projection).addQueries(todoListQueries(new TracedViewStore(views), projection));
}

/** Opens a consumer stream with `credentials` and resolves with the status it ends with. */
function consumerStatus(address: string, consumer: string, credentials: string): Promise<grpc.StatusObject> {
  const client = new HandlerLinkServiceClient(address, grpc.credentials.createInsecure());
  const stream = client.consume();
  stream.on("data", (_: ConsumeResponse) => undefined);
  stream.on("error", () => undefined);
  const ended = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
  stream.write(ConsumeRequest.fromPartial({ open: { consumer, eventTypes: [], afterPosition: "0", instanceId: "test", credentials } }));
  return ended.finally(() => {
    stream.cancel();
    client.close();
  });
}

describe("components: identities and grants", () => {
  let temp: { dir: string; remove(): Promise<void> };
  let running: RunningGateway;
  const meshes: MeshService[] = [];

  beforeAll(async () => {
    temp = await tempDir("components");
    writeFileSync(path.join(temp.dir, "todo.token"), "todo-token-1\n");
    writeFileSync(path.join(temp.dir, "billing.token"), "billing-token-1");
    const policy = parseSecurityPolicy(
      {
        components: {
          todo: { tokenFile: "todo.token", methods: [`${COMMANDS}/*`], consumers: ["todo-lists"], calls: [`${COMMANDS}/CreateTodoList`] },
          billing: { tokenFile: "billing.token", methods: [] },
        },
      },
      temp.dir,
      "test policy",
    );
    running = await startGateway(temp.dir, { components: new ComponentAuthorization(policy.components!, silentLogger) });
  });

  afterAll(async () => {
    for (const mesh of meshes) mesh.close();
    await running.gateway.stop();
    await temp.remove();
  });

  it("refuses a method the component is not granted, per method, while its other subscriptions stand", async () => {
    const todo = todoService(running.address, "todo", "todo-token-1");
    meshes.push(todo);
    await assert.rejects(todo.start(), (error: Error) => {
      assert.match(error.message, new RegExp(`${GET}: PERMISSION_DENIED: component todo is not granted ${GET}`));
      return true;
    });
    const clients = todoClients(running.address);
    try {
      await eventually(() => call(clients.commands, clients.commands.createTodoList, { listId: "granted", name: "granted" }));
      const refused = await failure(call(clients.queries, clients.queries.getTodoList, { listId: "granted" }));
      assert.equal(refused.code, grpc.status.UNAVAILABLE);
    } finally {
      clients.close();
    }
  });

  it("refuses a wrong token (UNAUTHENTICATED) and another component's name (PERMISSION_DENIED)", async () => {
    const wrong = new MeshService({ address: running.address, component: "todo", credentials: "todo-token-0" });
    meshes.push(wrong);
    await assert.rejects(wrong.start(), /invalid credentials/);
    const impostor = new MeshService({ address: running.address, component: "todo", credentials: "billing-token-1" });
    meshes.push(impostor);
    await assert.rejects(impostor.start(), /these credentials are not those of component todo/);
  });

  it("opens only the consumers a component is granted", async () => {
    const granted = await Promise.race([consumerStatus(running.address, "todo-lists", "todo-token-1"), new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 300))]);
    assert.equal(granted, "open");
    const refused = await consumerStatus(running.address, "billing-view", "todo-token-1");
    assert.equal(refused.code, grpc.status.PERMISSION_DENIED);
    assert.match(refused.details, /component todo is not granted the consumer billing-view/);
    assert.equal((await consumerStatus(running.address, "todo-lists", "")).code, grpc.status.UNAUTHENTICATED);
  });

  it("lets a component call through its link only the methods it is granted, as itself", async () => {
    const todo = new MeshService({ address: running.address, component: "todo", instanceId: "caller", credentials: "todo-token-1" }).addAggregate(todoListAggregate);
    meshes.push(todo);
    await todo.start();
    await todo.call(TodoListCommandServiceService.createTodoList, { listId: "called", name: "called" });
    await assert.rejects(todo.call(TodoListCommandServiceService.addTodoItem, { listId: "called", itemId: "i", text: "t" }), (error: MeshError) => {
      assert.equal(error.code, grpc.status.PERMISSION_DENIED);
      assert.match(error.message, /component todo is not granted calls to todo\.v1\.TodoListCommandService\/AddTodoItem/);
      return true;
    });
  });

  it("reads a token file again at each connect: a rotated token is the one that counts", async () => {
    writeFileSync(path.join(temp.dir, "billing.token"), "billing-token-2");
    const rotated = new MeshService({ address: running.address, component: "billing", credentials: "billing-token-2" });
    meshes.push(rotated);
    await rotated.start();
    const old = new MeshService({ address: running.address, component: "billing", credentials: "billing-token-1" });
    meshes.push(old);
    await assert.rejects(old.start(), /invalid credentials/);
  });
});

describe("components identified by their mTLS certificate", () => {
  it("links a component whose certificate names it, and refuses a certificate of no component", async () => {
    const temp = await tempDir("components-mtls");
    const ca = makeCa(temp.dir, "ca");
    const server = issueCertificate(ca, "gateway", "gateway");
    const todoCertificate = issueCertificate(ca, "todo", "todo.mesh.internal");
    const stranger = issueCertificate(ca, "stranger", "stranger.mesh.internal");
    const policy = parseSecurityPolicy({ components: { todo: { certificateNames: ["todo.mesh.internal"], methods: [`${COMMANDS}/*`, "todo.v1.TodoListQueryService/*"], consumers: ["todo-lists"] } } }, temp.dir, "test policy");
    const files = await CertificateFiles.open(
      { certificateFile: server.certificateFile, keyFile: server.keyFile, clientCaFile: ca.certificateFile, clientAuth: "required", refreshIntervalMs: 1_000 },
      silentLogger,
    );
    const running = await startGateway(temp.dir, { credentials: files.serverCredentials(), components: new ComponentAuthorization(policy.components!, silentLogger) });
    const tls = (file: typeof todoCertificate): LinkTlsOptions => ({ caFile: ca.certificateFile, certFile: file.certificateFile, keyFile: file.keyFile });
    const todo = todoService(running.address, "todo", "", tls(todoCertificate));
    const other = new MeshService({ address: running.address, component: "todo", tls: tls(stranger) });
    try {
      await todo.start();
      const channel = grpc.credentials.createSsl(readFileSync(ca.certificateFile), readFileSync(todoCertificate.keyFile), readFileSync(todoCertificate.certificateFile));
      const clients = todoClients(running.address, channel);
      try {
        await call(clients.commands, clients.commands.createTodoList, { listId: "by-certificate", name: "c" });
      } finally {
        clients.close();
      }
      await assert.rejects(other.start(), /credentials are required/);
    } finally {
      other.close();
      await todo.drain();
      await running.gateway.stop();
      files.close();
      await temp.remove();
    }
  });
});
