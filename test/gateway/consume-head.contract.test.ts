import assert from "node:assert/strict";
import { afterAll, afterEach, beforeAll, describe, it } from "@jest/globals";
import { credentials, type ClientDuplexStream } from "@grpc/grpc-js";
import { ConsumerOpen, ConsumerRole, HandlerLinkServiceClient, type ConsumeRequest, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { eventually, startGateway, tempDir, type RunningGateway } from "../support/mesh-harness";

/**
 * The Consume contract of `head_position` and `reflected_position` (docs/link-protocol.md, "Catching up before serving queries"):
 * what a consumer needs to know when its projection has caught up with the store as it was when it connected.
 */

interface Message {
  positions: number[];
  head: number;
  reflected: number;
  standby: boolean;
  role: ConsumerRole;
  /** delivery_after_position */
  after: number;
}

const { CONSUMER_ROLE_UNSPECIFIED: BATCH, CONSUMER_ROLE_ACTIVE: ACTIVE, CONSUMER_ROLE_STANDBY: STANDBY } = ConsumerRole;

type ConsumeStream = ClientDuplexStream<ConsumeRequest, ConsumeResponse>;

const CREATED = "todo.v1.TodoListCreated";
const RENAMED = "todo.v1.TodoListRenamed";

describe("Consume: the head position and the position reflected", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let client: HandlerLinkServiceClient;
  const open: ConsumeStream[] = [];

  function consumer(name: string, after: number, permits: number, eventTypes: string[] = []): { stream: ConsumeStream; messages: Message[] } {
    const messages: Message[] = [];
    const stream: ConsumeStream = client.consume();
    open.push(stream);
    stream.on("data", (response: ConsumeResponse) =>
      messages.push({
        positions: response.events.map((e) => Number(e.position)),
        head: Number(response.headPosition),
        reflected: Number(response.reflectedPosition),
        standby: response.standby,
        role: response.role,
        after: Number(response.deliveryAfterPosition),
      }),
    );
    stream.on("error", () => undefined);
    stream.write({ open: ConsumerOpen.fromPartial({ consumer: name, eventTypes, afterPosition: String(after), instanceId: name }), permits, processedPosition: String(after) });
    return { stream, messages };
  }

  /** Five lists, each created then renamed: positions 1..10, the creates odd, the renames even. */
  async function appendTenEvents(): Promise<void> {
    for (let i = 1; i <= 5; i++) {
      await mesh.store.append({ aggregateType: "TodoList", aggregateId: `l${i}`, expectedSequence: 0, commandId: `c${i}`, events: [{ type: CREATED, payload: Buffer.alloc(0), metadata: {} }] });
      await mesh.store.append({ aggregateType: "TodoList", aggregateId: `l${i}`, expectedSequence: 1, commandId: `r${i}`, events: [{ type: RENAMED, payload: Buffer.alloc(0), metadata: {} }] });
    }
  }

  beforeAll(async () => {
    data = await tempDir("consume-head");
    // Two events per store read, so that a catch-up takes several steps.
    mesh = await startGateway(data.dir, { limits: { consumerReadBatch: 2 } });
    client = new HandlerLinkServiceClient(mesh.address, credentials.createInsecure());
  });

  afterEach(() => {
    for (const stream of open.splice(0)) stream.cancel();
  });

  afterAll(async () => {
    client.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("opens at once with head 0 on an empty store: the consumer is caught up before any event", async () => {
    const { messages } = consumer("empty", 0, 10);
    await eventually(async () => assert.equal(messages.length, 1));
    assert.deepEqual(messages[0], { positions: [], head: 0, reflected: 0, standby: false, role: ACTIVE, after: 0 });
  });

  it("opens with the store's head and the consumer's checkpoint, before any event and whatever the permits", async () => {
    await appendTenEvents();
    const none = consumer("no-permits", 3, 0);
    await eventually(async () => assert.equal(none.messages.length, 1));
    assert.deepEqual(none.messages[0], { positions: [], head: 10, reflected: 3, standby: false, role: ACTIVE, after: 3 });

    const { messages } = consumer("window", 3, 4);
    await eventually(async () => assert.deepEqual(messages.flatMap((m) => m.positions), [4, 5, 6, 7]));
    assert.deepEqual(messages[0], { positions: [], head: 10, reflected: 3, standby: false, role: ACTIVE, after: 3 });
    // Each batch reflects the stream through its last event examined; the head is the store's.
    assert.deepEqual(messages.at(-1), { positions: messages.at(-1)!.positions, head: 10, reflected: 7, standby: false, role: BATCH, after: 0 });
  });

  it("tells a consumer whose checkpoint is at or past the head that it is caught up in the opening answer", async () => {
    const { messages } = consumer("at-head", 10, 10);
    await eventually(async () => assert.equal(messages.length, 1));
    assert.deepEqual(messages[0], { positions: [], head: 10, reflected: 10, standby: false, role: ACTIVE, after: 10 });
  });

  it("counts the events of other types: a consumer learns it passed the head even when the last events are not for it", async () => {
    // Wants only the creates (1, 3, 5, 7, 9); the head, 10, is a rename.
    const { messages } = consumer("creates", 0, 100, [CREATED]);
    await eventually(async () => assert.equal(Math.max(...messages.map((m) => m.reflected)), 10));
    assert.deepEqual(messages.flatMap((m) => m.positions), [1, 3, 5, 7, 9]);

    // Wants a type the store does not hold: five read steps find nothing; only the one that passes the head is told.
    const none = consumer("none-wanted", 0, 100, ["todo.v1.TodoListDeleted"]);
    await eventually(async () => assert.equal(none.messages.length, 2));
    assert.deepEqual(none.messages, [
      { positions: [], head: 10, reflected: 0, standby: false, role: ACTIVE, after: 0 },
      { positions: [], head: 10, reflected: 10, standby: false, role: BATCH, after: 0 },
    ]);
  });

  it("sends no event-less message for skipped live events once the consumer passed its head", async () => {
    const { messages } = consumer("renames-live", 10, 100, [RENAMED]);
    await eventually(async () => assert.equal(messages.length, 1));
    await mesh.store.append({ aggregateType: "TodoList", aggregateId: "l6", expectedSequence: 0, commandId: "c6", events: [{ type: CREATED, payload: Buffer.alloc(0), metadata: {} }] });
    await mesh.store.append({ aggregateType: "TodoList", aggregateId: "l6", expectedSequence: 1, commandId: "r6", events: [{ type: RENAMED, payload: Buffer.alloc(0), metadata: {} }] });
    await eventually(async () => assert.deepEqual(messages.flatMap((m) => m.positions), [12]));
    assert.equal(messages.length, 2, "the opening answer, then the rename: nothing for the skipped create");
    assert.deepEqual(messages[1], { positions: [12], head: 12, reflected: 12, standby: false, role: BATCH, after: 0 });
  });

  it("tells a standby the head and how far the active instance has got, until the projection passed that head", async () => {
    const active = consumer("pair", 0, 2);
    await eventually(async () => assert.deepEqual(active.messages.flatMap((m) => m.positions), [1, 2]));
    const standby = consumer("pair", 0, 100);
    await eventually(async () => assert.equal(standby.messages.length, 1));
    // The active instance was sent 1 and 2 but has processed nothing yet.
    assert.deepEqual(standby.messages[0], { positions: [], head: 12, reflected: 0, standby: true, role: STANDBY, after: 0 });
    active.stream.write({ open: undefined, permits: 0, processedPosition: "2" });
    await eventually(async () => assert.deepEqual(standby.messages.at(-1), { positions: [], head: 12, reflected: 2, standby: true, role: STANDBY, after: 0 }));
    active.stream.write({ open: undefined, permits: 100, processedPosition: "2" });
    await eventually(async () => assert.equal(active.messages.flatMap((m) => m.positions).at(-1), 12));
    active.stream.write({ open: undefined, permits: 0, processedPosition: "12" });
    await eventually(async () => assert.deepEqual(standby.messages.at(-1), { positions: [], head: 12, reflected: 12, standby: true, role: STANDBY, after: 0 }));
    const told = standby.messages.length;
    await mesh.store.append({ aggregateType: "TodoList", aggregateId: "l7", expectedSequence: 0, commandId: "c7", events: [{ type: CREATED, payload: Buffer.alloc(0), metadata: {} }] });
    await eventually(async () => assert.equal(active.messages.flatMap((m) => m.positions).at(-1), 13));
    active.stream.write({ open: undefined, permits: 0, processedPosition: "13" });
    await eventually(async () => assert.equal(active.messages.at(-1)!.reflected, 13));
    assert.equal(standby.messages.length, told, "a standby past its head hears nothing more");

    // Takeover: the standby becomes active and gets an opening answer of its own, then the events after its checkpoint.
    active.stream.cancel();
    await eventually(async () => assert.equal(standby.messages.flatMap((m) => m.positions).at(-1), 13));
    assert.deepEqual(standby.messages[told], { positions: [], head: 13, reflected: 0, standby: false, role: ACTIVE, after: 0 });
  });

  it("acknowledges open on every stream: the role, and the position delivery starts (or would start) after", async () => {
    const active = consumer("roles", 4, 0);
    await eventually(async () => assert.equal(active.messages.length, 1));
    assert.deepEqual(active.messages[0], { positions: [], head: 13, reflected: 4, standby: false, role: ACTIVE, after: 4 });

    // A standby with an older checkpoint than the active instance: it is told its own start, not the active one's.
    const standby = consumer("roles", 2, 100);
    await eventually(async () => assert.equal(standby.messages.length, 1));
    assert.deepEqual(standby.messages[0], { positions: [], head: 13, reflected: 4, standby: true, role: STANDBY, after: 2 });

    // A second standby, with nothing to deliver on an empty window: acknowledged at once as well.
    const second = consumer("roles", 13, 0);
    await eventually(async () => assert.equal(second.messages.length, 1));
    assert.deepEqual(second.messages[0], { positions: [], head: 13, reflected: 4, standby: true, role: STANDBY, after: 13 });

    // The oldest standby takes over: its opening answer says ACTIVE, and delivery starts right after 2.
    active.stream.cancel();
    await eventually(async () => assert.deepEqual(standby.messages.flatMap((m) => m.positions).slice(0, 2), [3, 4]));
    const opening = standby.messages.findIndex((m) => m.role === ACTIVE);
    assert.deepEqual(standby.messages[opening], { positions: [], head: 13, reflected: 2, standby: false, role: ACTIVE, after: 2 });
    assert.ok(standby.messages.slice(opening + 1).every((m) => m.role === BATCH), "only acknowledgements carry a role");
  });
});
