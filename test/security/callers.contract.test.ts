import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import * as grpc from "@grpc/grpc-js";
import { SignJWT, exportJWK, generateKeyPair, type KeyLike } from "jose";
import { FolderBlobStore, MeshService, silentLogger } from "@recq-mesh/kit";
import { HealthClient } from "@recq-mesh/gateway/gen/grpc/health/v1/health";
import { CallerAuthorization } from "@recq-mesh/gateway/internal/security/caller-authorization";
import { parseSecurityPolicy } from "@recq-mesh/gateway/internal/security/security-policy";
import { CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import { GetTodoList, TodoListQueryServiceService, TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { call, eventually, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { eventClient, subscribeEvents } from "../support/event-subscriber";
import { getOutcome, outcomeClient, sendAccepted } from "../support/outcome-client";
import { OutcomeState } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { DEFAULT_MAX_ATTACHMENT_BYTES, todoAttachmentAggregate, todoListAggregate } from "@recq-mesh/todo";
import { AttachFile, TodoAttachmentCommandServiceClient } from "@recq-mesh/todo/gen/todo/v1/attachments";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import { OpenChannel, packed } from "../support/reply-channel-client";
import { ListenRequest, ReplyChannelServiceClient } from "@recq-mesh/protocol/gen/recq/v1/reply_channel";
import { ReflectionClient } from "../support/reflection-client";

const SECRET = "a shared secret of at least thirty-two bytes, for HS256";
const ISSUER = "https://issuer.test";
const AUDIENCE = "recq-gateway";
const CREATE = "todo.v1.TodoListCommandService/CreateTodoList";
const GET = "todo.v1.TodoListQueryService/GetTodoList";

const reasonOf = (error: grpc.ServiceError) => error.metadata.get("recq-reason")[0];

interface TokenOptions {
  scope?: string;
  subject?: string;
  audience?: string;
  expiresAt?: number;
  key?: Uint8Array | KeyLike;
  algorithm?: string;
  keyId?: string;
  claims?: Record<string, unknown>;
}

function token(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: options.scope ?? "todo:write todo:read", ...options.claims })
    .setProtectedHeader({ alg: options.algorithm ?? "HS256", ...(options.keyId && { kid: options.keyId }) })
    .setSubject(options.subject ?? "alice")
    .setIssuer(ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(now - 5)
    .setExpirationTime(options.expiresAt ?? now + 300)
    .sign(options.key ?? new TextEncoder().encode(SECRET));
}

const bearer = (value: string) => ({ authorization: `Bearer ${value}` });

/** A query service that answers GetTodoList with the caller's identity as the handler saw it. */
async function startIdentityEcho(address: string): Promise<MeshService> {
  const mesh = new MeshService({ address, component: "echo" });
  mesh.addQueries({
    service: TodoListQueryServiceService,
    handlers: {
      getTodoList: async (request, context) =>
        TodoListView.fromPartial({
          listId: request.listId,
          name: JSON.stringify({ subject: context.headers["recq-caller-subject"], claims: context.headers["recq-caller-claims"], caller: context.caller }),
        }),
      listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
      watchTodoList: async () => undefined,
    },
  });
  await mesh.start();
  return mesh;
}

describe("callers: JWTs and the permission table", () => {
  let temp: { dir: string; remove(): Promise<void> };
  let running: RunningGateway;
  let todo: RunningTodo;
  let echo: MeshService;
  let clients: ReturnType<typeof todoClients>;

  beforeAll(async () => {
    temp = await tempDir("callers");
    writeFileSync(path.join(temp.dir, "jwt.secret"), SECRET);
    const policy = parseSecurityPolicy(
      {
        callers: {
          jwt: { secretFile: "jwt.secret", issuer: ISSUER, audience: AUDIENCE, forwardClaims: ["tenant"] },
          open: ["grpc.health.v1.Health/*"],
          permissions: {
            "todo.v1.TodoListCommandService/*": ["todo:write"],
            "todo.v1.TodoListQueryService/*": ["todo:read"],
            "recq.v1.CommandOutcomeService/*": ["todo:write"],
            "recq.v1.EventService/SubscribeEvents": ["events:read"],
          },
        },
      },
      temp.dir,
      "test policy",
    );
    running = await startGateway(temp.dir, {
      callers: CallerAuthorization.fromPolicy(policy.callers!, silentLogger),
      http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 15_000 },
    });
    todo = await startTodo(running.address, { roles: ["commands"] });
    echo = await startIdentityEcho(running.address);
    clients = todoClients(running.address);
  });

  afterAll(async () => {
    clients.close();
    await echo.drain();
    await todo.mesh.drain();
    await running.gateway.stop();
    await temp.remove();
  });

  it("runs a command for a token whose scope allows it", async () => {
    const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "jwt-1", name: "one" }, bearer(await token()));
    assert.ok(ack.commandId);
  });

  it("holds callers over the HTTP port to the same table: no token 401, a scope without the method 403, an allowed one served with its identity", async () => {
    const url = (method: string) => `http://127.0.0.1:${running.gateway.http!.port}/${method}`;
    const post = (method: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(url(method), { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    const missing = await post(CREATE, { listId: "http-1", name: "one" });
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get("recq-reason"), "UNAUTHENTICATED");
    const readOnly = await post(CREATE, { listId: "http-1", name: "one" }, bearer(await token({ scope: "todo:read" })));
    assert.equal(readOnly.status, 403);
    assert.equal(readOnly.headers.get("recq-reason"), "PERMISSION_DENIED");
    const forged = await token({ key: new TextEncoder().encode("another secret, also thirty-two bytes or more") });
    assert.equal((await post(GET, { listId: "x" }, bearer(forged))).status, 401);
    const created = await post(CREATE, { listId: "http-1", name: "one" }, bearer(await token()));
    assert.equal(created.status, 200, await created.clone().text());
    const echoed = (await (await post(GET, { listId: "http-2" }, { ...bearer(await token({ subject: "bob" })), "recq-caller-subject": "mallory" })).json()) as { name: string };
    assert.equal((JSON.parse(echoed.name) as { subject: string }).subject, "bob", "the verified subject reaches the handler; a forged header does not");
    // A stream too: Server-Sent Events of WatchOutcome without a token end before any message.
    const sse = await fetch(`http://127.0.0.1:${running.gateway.http!.port}/recq/v1/sse/recq.v1.CommandOutcomeService/WatchOutcome?message=${encodeURIComponent('{"commandId":"x"}')}`);
    const text = await sse.text();
    assert.doesNotMatch(text, /^data: \{"outcome"/m, "nothing served without credentials");
    assert.match(text, /UNAUTHENTICATED|unauthenticated/);
  });

  it("refuses a call without credentials: UNAUTHENTICATED", async () => {
    const error = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "jwt-2", name: "two" }));
    assert.equal(error.code, grpc.status.UNAUTHENTICATED);
    assert.equal(reasonOf(error), "UNAUTHENTICATED");
  });

  it("refuses an expired token, one for another audience, and one signed by another key, saying only 'invalid token'", async () => {
    const otherKey = new TextEncoder().encode("another secret, also thirty-two bytes or more");
    const refused = [
      await token({ expiresAt: Math.floor(Date.now() / 1000) - 60 }),
      await token({ audience: "another-service" }),
      await token({ key: otherKey }),
      "not.a.jwt",
    ];
    for (const bad of refused) {
      const error = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "jwt-3", name: "three" }, bearer(bad)));
      assert.equal(error.code, grpc.status.UNAUTHENTICATED, bad);
      assert.equal(error.details, "invalid token");
      assert.equal(reasonOf(error), "UNAUTHENTICATED");
    }
  });

  it("refuses a method the token's scope does not allow: PERMISSION_DENIED, while it allows another", async () => {
    const reader = await token({ scope: "todo:read" });
    const error = await failure(call(clients.commands, clients.commands.createTodoList, { listId: "jwt-4", name: "four" }, bearer(reader)));
    assert.equal(error.code, grpc.status.PERMISSION_DENIED);
    assert.equal(reasonOf(error), "PERMISSION_DENIED");
    assert.match(error.details, /may not call todo\.v1\.TodoListCommandService\/CreateTodoList/);
    await call(clients.queries, clients.queries.getTodoList, { listId: "x" }, bearer(reader));
  });

  it("passes the caller's subject and the chosen claims to the handler, and nothing a caller sends as them", async () => {
    const answer = await call(
      clients.queries,
      clients.queries.getTodoList,
      { listId: "who" },
      { ...bearer(await token({ subject: "bob", claims: { tenant: "acme", secret: "not forwarded" } })), "recq-caller-subject": "mallory", "x-recq-caller-subject": "x" },
    );
    const seen = JSON.parse(answer.name) as { subject: string; claims: string; caller: unknown };
    assert.equal(seen.subject, "bob");
    assert.deepEqual(JSON.parse(seen.claims), { tenant: "acme" });
    assert.deepEqual(seen.caller, { subject: "bob", claims: { tenant: "acme" } });
  });

  it("checks each request on a reply channel against its own method, and the stream goes on", async () => {
    const channel = new OpenChannel(running.address, bearer(await token({ scope: "todo:read" })));
    try {
      channel.send({ id: "create", method: CREATE, payload: packed("todo.v1.CreateTodoList", CreateTodoList, CreateTodoList.fromPartial({ listId: "ch-1", name: "c" })) });
      channel.send({ id: "get", method: GET, payload: packed("todo.v1.GetTodoList", GetTodoList, GetTodoList.fromPartial({ listId: "ch-1" })) });
      const refused = await channel.answerTo("create");
      assert.equal(refused.result?.$case, "failure");
      assert.equal(refused.result?.$case === "failure" && refused.result.value.code, grpc.status.PERMISSION_DENIED);
      const answered = await channel.answerTo("get");
      assert.equal(answered.result?.$case, "answer");
    } finally {
      channel.close();
    }
    const anonymous = new OpenChannel(running.address);
    try {
      const status = (await anonymous.ended) as grpc.StatusObject;
      assert.equal(status.code, grpc.status.UNAUTHENTICATED);
    } finally {
      anonymous.close();
    }
  });

  it("holds event subscriptions and the outcome service to their permissions", async () => {
    const events = eventClient(running.address);
    try {
      const denied = subscribeEvents(events, {}, await token({ scope: "todo:read todo:write" }));
      assert.equal((await denied.ended).code, grpc.status.PERMISSION_DENIED);
      const allowed = subscribeEvents(events, {}, await token({ scope: "events:read" }));
      const ended = await Promise.race([allowed.ended, new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 300))]);
      assert.equal(ended, "open");
      allowed.cancel();
    } finally {
      events.close();
    }
    const outcomes = outcomeClient(running.address);
    try {
      const error = await failure(getOutcome(outcomes, "some-id"));
      assert.equal(error.code, grpc.status.UNAUTHENTICATED);
      const reader = await failure(getOutcome(outcomes, "some-id", bearer(await token({ scope: "todo:read" }))));
      assert.equal(reader.code, grpc.status.PERMISSION_DENIED);
    } finally {
      outcomes.close();
    }
  });

  it("holds Listen to its own permission: none in this file, so no caller may listen", async () => {
    const client = new ReplyChannelServiceClient(running.address, grpc.credentials.createInsecure());
    try {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${await token()}`);
      const stream = client.listen(ListenRequest.fromPartial({ channel: "replies" }), metadata);
      const error = await new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
      assert.equal(error.code, grpc.status.PERMISSION_DENIED);
      assert.match(error.details, /may not call recq\.v1\.ReplyChannelService\/Listen/);
    } finally {
      client.close();
    }
  });

  it("leaves health open and reflection closed, as the file says", async () => {
    const health = new HealthClient(running.address, grpc.credentials.createInsecure());
    try {
      await new Promise<void>((resolve, reject) => health.check({ service: "" }, (error) => (error ? reject(error) : resolve())));
    } finally {
      health.close();
    }
    const reflection = new ReflectionClient(running.address);
    try {
      await assert.rejects(reflection.listServices(), (error: Error) => {
        assert.match(error.message, /UNAUTHENTICATED|code 16|credentials are required/);
        return true;
      });
    } finally {
      reflection.close();
    }
  });
});

describe("callers: a JWKS of asymmetric keys", () => {
  it("accepts a token signed by a key of the set, refuses one whose key is not in it", async () => {
    const temp = await tempDir("jwks");
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const stranger = await generateKeyPair("ES256");
    writeFileSync(path.join(temp.dir, "jwks.json"), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] }));
    const policy = parseSecurityPolicy(
      { callers: { jwt: { jwksFile: "jwks.json", issuer: ISSUER, audience: AUDIENCE }, permissions: { "todo.v1.TodoListQueryService/*": ["todo:read"] } } },
      temp.dir,
      "test policy",
    );
    const running = await startGateway(temp.dir, { callers: CallerAuthorization.fromPolicy(policy.callers!, silentLogger) });
    const echo = await startIdentityEcho(running.address);
    const clients = todoClients(running.address);
    try {
      const good = await token({ key: privateKey, algorithm: "ES256", keyId: "k1", scope: "todo:read" });
      await call(clients.queries, clients.queries.getTodoList, { listId: "x" }, bearer(good));
      const bad = await token({ key: stranger.privateKey, algorithm: "ES256", keyId: "k1", scope: "todo:read" });
      assert.equal((await failure(call(clients.queries, clients.queries.getTodoList, { listId: "x" }, bearer(bad)))).code, grpc.status.UNAUTHENTICATED);
      // An HS256 token is never checked against a JWKS (no key confusion), whatever its secret.
      const hs = await token({ scope: "todo:read" });
      assert.equal((await failure(call(clients.queries, clients.queries.getTodoList, { listId: "x" }, bearer(hs)))).code, grpc.status.UNAUTHENTICATED);
    } finally {
      clients.close();
      await echo.drain();
      await running.gateway.stop();
      await temp.remove();
    }
  });
});

describe("callers: the identity of an accepted command reaches its handler when it runs", () => {
  it("runs a command accepted for a token's subject with that subject, not a forged one", async () => {
    const temp = await tempDir("callers-async");
    writeFileSync(path.join(temp.dir, "jwt.secret"), SECRET);
    const policy = parseSecurityPolicy(
      {
        callers: {
          jwt: { secretFile: "jwt.secret", issuer: ISSUER, audience: AUDIENCE },
          permissions: { "todo.v1.TodoListCommandService/*": ["todo:write"], "recq.v1.CommandOutcomeService/*": ["todo:write"] },
        },
      },
      temp.dir,
      "test policy",
    );
    const running = await startGateway(temp.dir, { callers: CallerAuthorization.fromPolicy(policy.callers!, silentLogger) });
    // The TodoList aggregate, noting who each CreateTodoList runs for.
    const seen: (string | undefined)[] = [];
    const recording = {
      ...todoListAggregate,
      decide: {
        ...todoListAggregate.decide,
        createTodoList: (...args: Parameters<typeof todoListAggregate.decide.createTodoList>) => {
          seen.push(args[2].headers["recq-caller-subject"]);
          return todoListAggregate.decide.createTodoList(...args);
        },
      },
    };
    const clients = todoClients(running.address);
    const outcomes = outcomeClient(running.address);
    const mesh = new MeshService({ address: running.address, component: "todo" });
    try {
      const auth = bearer(await token({ subject: "carol" }));
      // Accepted while no handler is linked: it runs later, from the inbox, for carol.
      await sendAccepted(clients.commands, clients.commands.createTodoList, { listId: "async-1", name: "later" }, { ...auth, "recq-caller-subject": "mallory", "recq-command-id": "async-identity" });
      mesh.addAggregate(recording);
      await mesh.start();
      await eventually(async () => assert.equal((await getOutcome(outcomes, "async-identity", auth)).state, OutcomeState.OUTCOME_STATE_SUCCEEDED), 10_000);
      assert.deepEqual(seen, ["carol"]);
    } finally {
      clients.close();
      outcomes.close();
      await mesh.drain();
      await running.gateway.stop();
      await temp.remove();
    }
  });
});

describe("callers: an upload's handler sees its caller", () => {
  it("tells the upload's decider the token's subject (context.caller), as a unary command's", async () => {
    const temp = await tempDir("callers-upload");
    const blobDir = await tempDir("callers-upload-blobs");
    writeFileSync(path.join(temp.dir, "jwt.secret"), SECRET);
    const policy = parseSecurityPolicy(
      { callers: { jwt: { secretFile: "jwt.secret", issuer: ISSUER, audience: AUDIENCE }, permissions: { "todo.v1.TodoListCommandService/*": ["todo:write"], "todo.v1.TodoAttachmentCommandService/*": ["todo:write"] } } },
      temp.dir,
      "test policy",
    );
    const running = await startGateway(temp.dir, { callers: CallerAuthorization.fromPolicy(policy.callers!, silentLogger) });
    const blobs = await FolderBlobStore.open(blobDir.dir);
    const attachments = todoAttachmentAggregate({ maxAttachmentBytes: DEFAULT_MAX_ATTACHMENT_BYTES });
    const seen: (string | undefined)[] = [];
    const recording = {
      ...attachments,
      decide: {
        attachFile: (...args: Parameters<typeof attachments.decide.attachFile>) => {
          seen.push(args[3].caller?.subject);
          return attachments.decide.attachFile(...args);
        },
      },
    };
    const mesh = new MeshService({ address: running.address, component: "todo", blobs });
    mesh.addAggregate(todoListAggregate).addAggregate(recording);
    await mesh.start();
    const clients = todoClients(running.address);
    const attach = new TodoAttachmentCommandServiceClient(running.address, grpc.credentials.createInsecure());
    try {
      const auth = bearer(await token({ subject: "dave" }));
      await call(clients.commands, clients.commands.createTodoList, { listId: "up-1", name: "up" }, auth);
      await call(clients.commands, clients.commands.addTodoItem, { listId: "up-1", itemId: "i", text: "i" }, auth);
      const metadata = new grpc.Metadata();
      metadata.set("authorization", auth.authorization);
      const ack = await new Promise<CommandAck>((resolve, reject) => {
        const stream = attach.attachFile(metadata, { deadline: Date.now() + 10_000 }, (error, answer) => (error ? reject(error) : resolve(answer!)));
        stream.write(AttachFile.fromPartial({ listId: "up-1", itemId: "i", fileName: "a.txt", contentType: "text/plain" }));
        stream.write(AttachFile.fromPartial({ content: Buffer.from("hello") }));
        stream.end();
      });
      assert.ok(ack.commandId);
      assert.deepEqual(seen, ["dave"]);
    } finally {
      attach.close();
      clients.close();
      await mesh.drain();
      await running.gateway.stop();
      await temp.remove();
      await blobDir.remove();
    }
  });
});
