import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials, status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { ConsumeRequest, HandlerLinkServiceClient, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { DeadEventServiceClient, type ListParkedEventsRequest, type ListParkedEventsResponse } from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { call, eventually, failure, startGateway, tempDir, type RunningGateway } from "../support/mesh-harness";

type ConsumeStream = ClientDuplexStream<ConsumeRequest, ConsumeResponse>;

/** A consumer speaking the link protocol by hand: the dead-event queue's frames, exactly. */
function openConsumer(client: HandlerLinkServiceClient, name: string, after = 0) {
  const messages: ConsumeResponse[] = [];
  const stream: ConsumeStream = client.consume();
  stream.on("data", (response: ConsumeResponse) => messages.push(response));
  stream.on("error", () => undefined);
  stream.write(ConsumeRequest.fromPartial({ open: { consumer: name, afterPosition: String(after), instanceId: name }, permits: 100, processedPosition: String(after) }));
  const positions = () => messages.flatMap((message) => message.events.map((event) => Number(event.position)));
  return { stream, messages, positions };
}

describe("dead-event queue frames on a consumer stream", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let client: HandlerLinkServiceClient;
  let admin: DeadEventServiceClient;
  const sequences = new Map<string, number>();

  const append = async (listId: string): Promise<number> => {
    const sequence = sequences.get(listId) ?? 0;
    sequences.set(listId, sequence + 1);
    const result = await mesh.store.append({
      aggregateType: "TodoList",
      aggregateId: listId,
      expectedSequence: sequence,
      commandId: `${listId}-${sequence}`,
      events: [{ type: sequence === 0 ? "todo.v1.TodoListCreated" : "todo.v1.TodoListRenamed", payload: Buffer.alloc(0), metadata: {} }],
    });
    if (result.kind !== "appended") throw new Error(`append to ${listId} conflicted`);
    return result.events[0]!.position;
  };

  beforeAll(async () => {
    data = await tempDir("dead-events-protocol");
    mesh = await startGateway(data.dir, { limits: { deadEventPageSize: 2, maxParkedErrorBytes: 100 } });
    client = new HandlerLinkServiceClient(mesh.address, credentials.createInsecure());
    admin = new DeadEventServiceClient(mesh.address, credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    admin.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("parks the failed event with the later ones of its aggregate already sent, names them to pass, parks later ones instead of sending them, and redrives in order", async () => {
    const a1 = await append("a");
    const b1 = await append("b");
    const a2 = await append("a");
    const a3 = await append("a");
    const consumer = openConsumer(client, "by-hand");
    await eventually(async () => assert.deepEqual(consumer.positions(), [a1, b1, a2, a3]));

    // a1 fails; b1 is fine. The answer names a1 and the events of "a" sent after it.
    consumer.stream.write(ConsumeRequest.fromPartial({ failure: { position: String(a1), error: "boom", attempts: 4 } }));
    const answer = await eventually(async () => {
      const found = consumer.messages.find((message) => message.answeredFailurePosition !== "0");
      assert.ok(found);
      return found;
    });
    assert.deepEqual(answer.skipPositions.map(Number), [a1, a2, a3]);
    assert.deepEqual(answer.events, []);
    consumer.stream.write(ConsumeRequest.fromPartial({ permits: 4, processedPosition: String(a3) }));

    // A later event of "a" is parked, named in a message without events; one of "b" is sent.
    const a4 = await append("a");
    const b2 = await append("b");
    await eventually(async () => {
      assert.ok(consumer.messages.some((message) => message.skipPositions.map(Number).includes(a4) && message.events.length === 0));
      assert.deepEqual(consumer.positions().slice(-1), [b2]);
    });
    assert.ok(!consumer.positions().includes(a4), "a blocked aggregate's event is not sent");
    consumer.stream.write(ConsumeRequest.fromPartial({ permits: 1, processedPosition: String(b2) }));

    // Pages of at most RECQ_DEAD_EVENT_PAGE_SIZE (2), whatever page_size asks.
    const list = (request: Partial<ListParkedEventsRequest>): Promise<ListParkedEventsResponse> =>
      call(admin, admin.listParkedEvents, { consumer: "by-hand", afterPosition: "0", pageSize: 0, ...request });
    const first = await list({ pageSize: 50 });
    assert.deepEqual(first.events.map((event) => [Number(event.position), event.waitingBehind]), [[a1, false], [a2, true]]);
    assert.equal(first.nextAfterPosition, String(a2));
    const second = await list({ afterPosition: first.nextAfterPosition });
    assert.deepEqual(second.events.map((event) => Number(event.position)), [a3, a4]);
    assert.equal(second.nextAfterPosition, "0", "the last page");
    assert.deepEqual((await list({ pageSize: 1 })).events.map((event) => Number(event.position)), [a1]);
    assert.equal(first.status?.parkedCount, 4);

    // The redrive: one event at a time, marked, in order; each acknowledged one is deleted.
    const before = consumer.messages.length;
    assert.deepEqual(await call(admin, admin.retryParked, { consumer: "by-hand", aggregateType: "TodoList", aggregateId: "a" }), { scheduled: 4, waitingForInstance: false });
    const redriven: number[] = [];
    for (const expected of [a1, a2, a3, a4]) {
      await eventually(async () => {
        const sent = consumer.messages.slice(before).filter((message) => message.redriven).flatMap((message) => message.events.map((event) => Number(event.position)));
        assert.deepEqual(sent, [...redriven, expected], "one at a time, the next only after the acknowledgement");
      });
      redriven.push(expected);
      consumer.stream.write(ConsumeRequest.fromPartial({ redrivenHandledPosition: String(expected) }));
    }
    await eventually(async () => assert.equal((await list({})).status?.parkedCount, 0));
    const a5 = await append("a");
    await eventually(async () => assert.deepEqual(consumer.positions().slice(-1), [a5]), 5_000);
    consumer.stream.end();
  });

  it("keeps a retry for an instance to come, and redrives only once the consumer's checkpoint has passed the event", async () => {
    const head = await mesh.store.headPosition();
    const first = openConsumer(client, "comes-back", head);
    const c1 = await append("c");
    await eventually(async () => assert.deepEqual(first.positions(), [c1]));
    first.stream.write(ConsumeRequest.fromPartial({ failure: { position: String(c1), error: "boom", attempts: 1 } }));
    await eventually(async () => assert.ok(first.messages.some((message) => message.answeredFailurePosition === String(c1))));
    first.stream.end();
    await eventually(async () => {
      const answer = await call(admin, admin.retryParked, { consumer: "comes-back", aggregateType: "", aggregateId: "" });
      assert.deepEqual(answer, { scheduled: 1, waitingForInstance: true });
    });

    // It comes back from its checkpoint (it never passed c1): c1 is named to pass, and not redriven before that.
    const again = openConsumer(client, "comes-back", head);
    await eventually(async () => assert.ok(again.messages.some((message) => message.skipPositions.includes(String(c1)))));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(!again.messages.some((message) => message.redriven), "not redriven while normal delivery could still bring it");
    again.stream.write(ConsumeRequest.fromPartial({ processedPosition: String(c1) }));
    await eventually(async () => assert.deepEqual(again.messages.filter((message) => message.redriven).flatMap((message) => message.events.map((event) => Number(event.position))), [c1]));
    again.stream.write(ConsumeRequest.fromPartial({ redrivenHandledPosition: String(c1) }));
    await eventually(async () => assert.deepEqual((await call(admin, admin.listParkedEvents, { consumer: "comes-back", afterPosition: "0", pageSize: 0 })).events, []));
    again.stream.end();
  });

  it("refuses to skip the event being retried (FAILED_PRECONDITION), and skips it once its retry has failed", async () => {
    const head = await mesh.store.headPosition();
    const consumer = openConsumer(client, "held", head);
    const d1 = await append("d");
    await eventually(async () => assert.deepEqual(consumer.positions(), [d1]));
    consumer.stream.write(ConsumeRequest.fromPartial({ failure: { position: String(d1), error: "boom", attempts: 1 } }));
    await eventually(async () => assert.ok(consumer.messages.some((message) => message.answeredFailurePosition === String(d1))));
    consumer.stream.write(ConsumeRequest.fromPartial({ processedPosition: String(d1) }));

    // The retry sends d1; the consumer holds it (its handler is still applying it).
    await call(admin, admin.retryParked, { consumer: "held", aggregateType: "", aggregateId: "" });
    await eventually(async () => assert.ok(consumer.messages.some((message) => message.redriven)));
    for (const request of [{ position: String(d1), all: false }, { position: "0", all: true }]) {
      const refused = await failure(call(admin, admin.skipParked, { consumer: "held", ...request }));
      assert.equal(refused.code, status.FAILED_PRECONDITION);
      assert.match(refused.details, new RegExp(`parked event ${d1} of consumer held is being retried now`));
    }
    const listed = await call(admin, admin.listParkedEvents, { consumer: "held", afterPosition: "0", pageSize: 0 });
    assert.deepEqual(listed.events.map((event) => Number(event.position)), [d1], "nothing was skipped");

    // The retry fails: d1 stays parked, and may be skipped now.
    consumer.stream.write(ConsumeRequest.fromPartial({ failure: { position: String(d1), error: "boom again", attempts: 1 } }));
    await eventually(async () => assert.equal(consumer.messages.filter((message) => message.answeredFailurePosition === String(d1)).length, 2));
    assert.deepEqual(await call(admin, admin.skipParked, { consumer: "held", position: String(d1), all: false }), { skipped: 1 });
    consumer.stream.end();
  });

  it("keeps an error of RECQ_MAX_PARKED_ERROR_BYTES (100 here) as sent, and cuts one byte more between characters, saying so", async () => {
    const head = await mesh.store.headPosition();
    const consumer = openConsumer(client, "wordy", head);
    const e1 = await append("e");
    const f1 = await append("f");
    await eventually(async () => assert.deepEqual(consumer.positions(), [e1, f1]));
    const atLimit = "é".repeat(50); // 100 bytes
    const onePast = `x${atLimit}`; // 101 bytes; the cut falls inside an "é"
    consumer.stream.write(ConsumeRequest.fromPartial({ failure: { position: String(e1), error: atLimit, attempts: 1 } }));
    consumer.stream.write(ConsumeRequest.fromPartial({ failure: { position: String(f1), error: onePast, attempts: 1 } }));
    await eventually(async () => assert.equal(consumer.messages.filter((message) => message.answeredFailurePosition !== "0").length, 2));
    const listed = await call(admin, admin.listParkedEvents, { consumer: "wordy", afterPosition: "0", pageSize: 0 });
    const note = " … (101 bytes, cut at 100)";
    const cut = `x${"é".repeat((100 - Buffer.byteLength(note) - 1) >> 1)}${note}`;
    assert.deepEqual(listed.events.map((event) => event.error), [atLimit, cut]);
    assert.ok(Buffer.byteLength(cut) <= 100);

    // A retry that fails again with a longer error is held to the same bound.
    consumer.stream.write(ConsumeRequest.fromPartial({ processedPosition: String(f1) }));
    await call(admin, admin.retryParked, { consumer: "wordy", aggregateType: "TodoList", aggregateId: "e" });
    await eventually(async () => assert.ok(consumer.messages.some((message) => message.redriven)));
    consumer.stream.write(ConsumeRequest.fromPartial({ failure: { position: String(e1), error: "y".repeat(1_000_000), attempts: 1 } }));
    await eventually(async () => {
      const again = await call(admin, admin.listParkedEvents, { consumer: "wordy", afterPosition: "0", pageSize: 0 });
      assert.equal(again.events[0]!.error, `${"y".repeat(100 - Buffer.byteLength(" … (1000000 bytes, cut at 100)"))} … (1000000 bytes, cut at 100)`);
    });
    consumer.stream.end();
  });

  it("refuses a failure report for a position the stream did not send, ending the stream with INVALID_ARGUMENT", async () => {
    const consumer = openConsumer(client, "liar");
    let ended: ServiceError | undefined;
    consumer.stream.on("error", (error: ServiceError) => (ended = error));
    await eventually(async () => assert.ok(consumer.messages.length > 0));
    consumer.stream.write(ConsumeRequest.fromPartial({ failure: { position: "999999", error: "made up", attempts: 1 } }));
    await eventually(async () => assert.equal(ended?.code, status.INVALID_ARGUMENT));
    assert.deepEqual((await call(admin, admin.listParkedEvents, { consumer: "liar", afterPosition: "0", pageSize: 0 })).events, []);
  });
});

describe("DeadEventService credentials (simple mode)", () => {
  it("takes the callers' token", async () => {
    const data = await tempDir("dead-events-token");
    const mesh = await startGateway(data.dir, { clientToken: "s3cret" });
    const admin = new DeadEventServiceClient(mesh.address, credentials.createInsecure());
    try {
      const request = { consumer: "todo-lists", afterPosition: "0", pageSize: 0 };
      assert.equal((await failure(call(admin, admin.listParkedEvents, request))).code, status.UNAUTHENTICATED);
      assert.equal((await failure(call(admin, admin.listParkedEvents, request, { authorization: "Bearer wrong" }))).code, status.PERMISSION_DENIED);
      const answer = await call(admin, admin.listParkedEvents, request, { authorization: "Bearer s3cret" });
      assert.equal(answer.status?.parkedCount, 0);
    } finally {
      admin.close();
      await mesh.gateway.stop();
      await data.remove();
    }
  });
});

describe("DeadEventService on the HTTP port (Connect JSON)", () => {
  it("lists and skips with the callers' token, as on the gRPC port", async () => {
    const data = await tempDir("dead-events-http");
    const mesh = await startGateway(data.dir, { clientToken: "s3cret", http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 10_000 } });
    const base = `http://127.0.0.1:${mesh.gateway.http!.port}`;
    const post = (method: string, body: unknown, token = "s3cret") =>
      fetch(`${base}/recq.v1.DeadEventService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    try {
      const listed = await post("ListParkedEvents", { consumer: "todo-lists" });
      assert.equal(listed.status, 200);
      const answer = (await listed.json()) as { status?: { consumer?: string; parkedCount?: number } };
      assert.equal(answer.status?.consumer, "todo-lists");
      assert.equal(answer.status?.parkedCount ?? 0, 0);
      const missing = await post("SkipParked", { consumer: "todo-lists", position: "4" });
      assert.equal(missing.status, 404);
      assert.equal((await post("ListParkedEvents", { consumer: "todo-lists" }, "wrong")).status, 403);
    } finally {
      await mesh.gateway.stop();
      await data.remove();
    }
  });
});
