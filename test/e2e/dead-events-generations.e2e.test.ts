import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "@jest/globals";
import { credentials, type ClientDuplexStream } from "@grpc/grpc-js";
import { EmbeddedParkedEventStore } from "@recq-mesh/gateway";
import { ConsumeRequest, ConsumerRole, HandlerLinkServiceClient, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { eventually, startGateway, tempDir, type RunningGateway } from "../support/mesh-harness";

const NAME = "by-generation";

/** A consumer stream spoken by hand, at a generation of its views. */
function openConsumer(client: HandlerLinkServiceClient, generation: number, after = 0) {
  const messages: ConsumeResponse[] = [];
  const stream: ClientDuplexStream<ConsumeRequest, ConsumeResponse> = client.consume();
  stream.on("data", (response: ConsumeResponse) => messages.push(response));
  stream.on("error", () => undefined);
  stream.write(
    ConsumeRequest.fromPartial({ open: { consumer: NAME, afterPosition: String(after), instanceId: `${NAME}-${generation}`, generation }, permits: 100, processedPosition: String(after) }),
  );
  const positions = () => messages.flatMap((message) => message.events.map((event) => Number(event.position)));
  /** Reports the event at `position` unhandled and waits for the gateway's answer (it is parked then). */
  const fail = async (position: number) => {
    stream.write(ConsumeRequest.fromPartial({ failure: { position: String(position), error: "boom", attempts: 1 } }));
    await eventually(async () => assert.ok(messages.some((message) => message.answeredFailurePosition === String(position))));
  };
  return { stream, messages, positions, fail };
}

/**
 * What a projection's older generations parked is deleted once a newer generation serves (their events were replayed
 * by it): when its own stream opens at that generation, also right after a gateway restart, and again when it takes
 * over from the old stream, which may have parked more meanwhile.
 */
describe("parked events of a projection's older generations", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let parked: EmbeddedParkedEventStore;
  let mesh: RunningGateway | undefined;
  let client: HandlerLinkServiceClient | undefined;
  let sequence = 0;

  const start = async () => {
    parked = await EmbeddedParkedEventStore.open({ directory: data.dir });
    mesh = await startGateway(data.dir, { parkedEvents: parked });
    client = new HandlerLinkServiceClient(mesh.address, credentials.createInsecure());
  };
  const stop = async () => {
    client?.close();
    await mesh?.gateway.stop();
    client = undefined;
    mesh = undefined;
  };
  const append = async (): Promise<number> => {
    const result = await mesh!.store.append({
      aggregateType: "TodoList",
      aggregateId: "a",
      expectedSequence: sequence,
      commandId: `a-${sequence}`,
      events: [{ type: sequence === 0 ? "todo.v1.TodoListCreated" : "todo.v1.TodoListRenamed", payload: Buffer.alloc(0), metadata: {} }],
    });
    sequence += 1;
    if (result.kind !== "appended") throw new Error("the append conflicted");
    return result.events[0]!.position;
  };
  const parkedKeys = async () => (await parked.all()).map((entry) => `${entry.consumer}@${entry.position}`);

  beforeEach(async () => {
    data = await tempDir("dead-events-generations");
    sequence = 0;
    await start();
  });

  afterEach(async () => {
    await stop();
    await data.remove();
  });

  it("deletes them when the projection's own stream opens at a newer generation after a gateway restart", async () => {
    const a1 = await append();
    const old = openConsumer(client!, 1);
    await eventually(async () => assert.deepEqual(old.positions(), [a1]));
    await old.fail(a1);
    old.stream.end();
    await stop();

    await start();
    assert.deepEqual(await parkedKeys(), [`${NAME}@${a1}`], "kept across the restart");
    const served = openConsumer(client!, 2, a1);
    await eventually(async () => assert.equal(served.messages[0]?.role, ConsumerRole.CONSUMER_ROLE_ACTIVE));
    await eventually(async () => assert.deepEqual(await parkedKeys(), []));
    served.stream.end();
  });

  it("deletes what the old stream parked after the new generation's stream opened, once that one takes over", async () => {
    const a1 = await append();
    const old = openConsumer(client!, 1);
    await eventually(async () => assert.deepEqual(old.positions(), [a1]));
    await old.fail(a1);

    const next = openConsumer(client!, 2, a1);
    await eventually(async () => assert.equal(next.messages[0]?.role, ConsumerRole.CONSUMER_ROLE_STANDBY));
    await eventually(async () => assert.deepEqual(await parkedKeys(), []), 5_000);
    // The old stream, still active, parks one more of its generation.
    const a2 = await append();
    await eventually(async () => assert.deepEqual(old.positions(), [a1, a2]));
    await old.fail(a2);
    assert.deepEqual(await parkedKeys(), [`${NAME}@${a2}`]);

    old.stream.end();
    await eventually(async () => assert.ok(next.messages.some((message) => message.role === ConsumerRole.CONSUMER_ROLE_ACTIVE)));
    await eventually(async () => assert.deepEqual(await parkedKeys(), []));
    next.stream.end();
  });
});
