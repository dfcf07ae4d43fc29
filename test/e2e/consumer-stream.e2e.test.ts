import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials, type ClientDuplexStream } from "@grpc/grpc-js";
import { ConsumerOpen, HandlerLinkServiceClient, type ConsumeRequest, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { HealthClient, HealthCheckResponse_ServingStatus } from "@recq-mesh/gateway/gen/grpc/health/v1/health";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";

type ConsumeStream = ClientDuplexStream<ConsumeRequest, ConsumeResponse>;

function consumer(client: HandlerLinkServiceClient, name: string, after: number, permits: number, eventTypes: string[] = []) {
  const received: { positions: number[]; standby: boolean } = { positions: [], standby: false };
  const stream: ConsumeStream = client.consume();
  stream.on("data", (response: ConsumeResponse) => {
    if (response.standby) received.standby = true;
    received.positions.push(...response.events.map((e) => Number(e.position)));
  });
  stream.on("error", () => undefined);
  stream.write({ open: ConsumerOpen.fromPartial({ consumer: name, eventTypes, afterPosition: String(after), instanceId: name }), permits, processedPosition: String(after) });
  return { stream, received };
}

describe("consumer streams", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let client: HandlerLinkServiceClient;

  beforeAll(async () => {
    data = await tempDir("consumers");
    mesh = await startGateway(data.dir);
    client = new HandlerLinkServiceClient(mesh.address, credentials.createInsecure());
    // Ten stored events to consume: creates and renames of five lists.
    for (let i = 1; i <= 5; i++) {
      await mesh.store.append({ aggregateType: "TodoList", aggregateId: `l${i}`, expectedSequence: 0, commandId: `c${i}`, events: [{ type: "todo.v1.TodoListCreated", payload: Buffer.alloc(0), metadata: {} }] });
      await mesh.store.append({ aggregateType: "TodoList", aggregateId: `l${i}`, expectedSequence: 1, commandId: `r${i}`, events: [{ type: "todo.v1.TodoListRenamed", payload: Buffer.alloc(0), metadata: {} }] });
    }
  });

  afterAll(async () => {
    client.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("sends stored events in order after the position asked for, no more than the permits, then live ones", async () => {
    const { stream, received } = consumer(client, "ordered", 3, 4);
    await eventually(async () => assert.deepEqual(received.positions, [4, 5, 6, 7]));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(received.positions, [4, 5, 6, 7], "nothing beyond the permits");
    stream.write({ open: undefined, permits: 100, processedPosition: "7" });
    await eventually(async () => assert.deepEqual(received.positions, [4, 5, 6, 7, 8, 9, 10]));
    await mesh.store.append({ aggregateType: "TodoList", aggregateId: "live", expectedSequence: 0, commandId: "live", events: [{ type: "todo.v1.TodoListCreated", payload: Buffer.alloc(0), metadata: {} }] });
    await eventually(async () => assert.deepEqual(received.positions.slice(-1), [11]));
    stream.end();
  });

  it("filters by event type", async () => {
    const { stream, received } = consumer(client, "renames", 0, 100, ["todo.v1.TodoListRenamed"]);
    await eventually(async () => assert.deepEqual(received.positions, [2, 4, 6, 8, 10]));
    stream.end();
  });

  it("keeps a second instance of a consumer as a standby, and hands over when the active one goes", async () => {
    const active = consumer(client, "pair", 0, 100);
    await eventually(async () => assert.equal(active.received.positions.length, 11));
    const standby = consumer(client, "pair", 5, 100);
    await eventually(async () => assert.equal(standby.received.standby, true));
    assert.deepEqual(standby.received.positions, []);
    active.stream.cancel();
    await eventually(async () => assert.deepEqual(standby.received.positions, [6, 7, 8, 9, 10, 11]));
    standby.stream.end();
  });

  it("reports a domain service SERVING only while a handler for it is linked", async () => {
    const health = new HealthClient(mesh.address, credentials.createInsecure());
    const check = (service: string) =>
      new Promise<number>((resolve, reject) => health.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status))));
    try {
      assert.equal(await check(""), HealthCheckResponse_ServingStatus.SERVING);
      assert.equal(await check("todo.v1.TodoListCommandService"), HealthCheckResponse_ServingStatus.NOT_SERVING);
      const todo = await startTodo(mesh.address, { roles: ["commands"] });
      assert.equal(await check("todo.v1.TodoListCommandService"), HealthCheckResponse_ServingStatus.SERVING);
      assert.equal(await check("todo.v1.TodoListQueryService"), HealthCheckResponse_ServingStatus.NOT_SERVING);
      const clients = todoClients(mesh.address);
      await call(clients.commands, clients.commands.createTodoList, { listId: "health", name: "H" });
      clients.close();
      todo.mesh.close();
      await eventually(async () => assert.equal(await check("todo.v1.TodoListCommandService"), HealthCheckResponse_ServingStatus.NOT_SERVING));
    } finally {
      health.close();
    }
  });
});
