import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { afterEach, describe, it, jest } from "@jest/globals";
import { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { ConnectResponse, type GatewayFrame } from "@recq-mesh/protocol/gen/recq/v1/link";
import { deserializeConnectResponse } from "@recq-mesh/kit/internal/link/lazy-history";
import { AggregateStateCache } from "@recq-mesh/kit/internal/handlers/aggregate-state-cache";
import { fold } from "@recq-mesh/kit/internal/handlers/command-runner";
import { TodoItemAdded, TodoListCreated } from "@recq-mesh/todo/gen/todo/v1/events";
import { todoListAggregate } from "@recq-mesh/todo";

const envelope = (sequence: number): EventEnvelope => ({
  position: String(100 + sequence),
  aggregateType: "todo.v1.TodoList",
  aggregateId: "l1",
  sequence: String(sequence),
  type: sequence === 1 ? "todo.v1.TodoListCreated" : "todo.v1.TodoItemAdded",
  payload: Buffer.from(
    sequence === 1 ? TodoListCreated.encode({ listId: "l1", name: "L" }).finish() : TodoItemAdded.encode({ listId: "l1", itemId: `i${sequence}`, text: "t" }).finish(),
  ),
  time: new Date(1_700_000_000_000 + sequence),
  commandId: `c${sequence}`,
  metadata: sequence % 2 === 0 ? { traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01` } : {},
});

const dispatchFrame = (history: EventEnvelope[]): GatewayFrame => ({
  metadata: { traceparent: "00-1-2-01" },
  frame: {
    $case: "dispatch",
    value: {
      requestId: 7,
      requestStream: false,
      answerWindow: 0,
      method: "todo.v1.TodoListCommandService/AddTodoItem",
      payload: Buffer.from("request"),
      commandId: "cmd-9",
      aggregateId: "l1",
      snapshot: { sequence: "0", type: "todo.v1.TodoListState", payload: Buffer.from("state") },
      history,
      timeoutMs: 2500,
      headers: { "x-request": "r1" },
    },
  },
});

/** The frames with every envelope read into a plain object: what the generated decoder gives. */
function readAll(response: ConnectResponse): ConnectResponse {
  return {
    frames: response.frames.map((frame) =>
      frame.frame?.$case === "dispatch" ? { ...frame, frame: { ...frame.frame, value: { ...frame.frame.value, history: frame.frame.value.history.map((e) => ({ ...EventEnvelope.fromPartial({}), ...JSON.parse(JSON.stringify(e)), payload: e.payload, time: e.time })) } } } : frame,
    ),
  };
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe("the handler's link decoder", () => {
  it("decodes every frame as the generated decoder does, histories included", () => {
    const bytes = Buffer.from(
      ConnectResponse.encode({
        frames: [
          dispatchFrame([envelope(1), envelope(2), envelope(3)]),
          { metadata: {}, frame: { $case: "cancel", value: { requestId: 3, reason: "caller cancelled" } } },
          dispatchFrame([]),
          { metadata: {}, frame: { $case: "heartbeat", value: {} } },
        ],
      }).finish(),
    );
    assert.deepEqual(readAll(deserializeConnectResponse(bytes)), ConnectResponse.decode(bytes));
    assert.deepEqual(deserializeConnectResponse(Buffer.alloc(0)), { frames: [] });
  });

  it("leaves a message it does not expect to the generated decoder, and fails on bytes that are no message as it does", () => {
    // A ConnectResponse with an unknown field beside its frames: protobuf skips it.
    const frames = Buffer.from(ConnectResponse.encode({ frames: [dispatchFrame([envelope(1)])] }).finish());
    const withUnknown = Buffer.concat([frames, Buffer.from([(9 << 3) | 0, 1])]);
    assert.deepEqual(readAll(deserializeConnectResponse(withUnknown)), ConnectResponse.decode(withUnknown));
    const cut = frames.subarray(0, frames.length - 3);
    assert.throws(() => ConnectResponse.decode(cut));
    assert.throws(() => deserializeConnectResponse(cut));
  });

  it("decodes only the history envelopes a fold from a cached state reads", () => {
    const history = Array.from({ length: 30 }, (_, n) => envelope(n + 1));
    const cache = new AggregateStateCache<ReturnType<typeof todoListAggregate.initialState>>(10);
    const received = (events: EventEnvelope[]) => {
      const frame = deserializeConnectResponse(Buffer.from(ConnectResponse.encode({ frames: [dispatchFrame(events)] }).finish())).frames[0]!.frame;
      assert.equal(frame?.$case, "dispatch");
      return { ...frame.value, snapshot: undefined };
    };
    const full = fold(todoListAggregate, received(history), cache);
    assert.equal(full.state.items.length, 29);
    const decode = jest.spyOn(EventEnvelope, "decode");
    const next = fold(todoListAggregate, received([...history, envelope(31)]), cache);
    assert.equal(next.sequence, 31);
    assert.equal(next.state.items.length, 30);
    // The first (where the history starts), the cached one (the 30th), and the one after it.
    assert.equal(decode.mock.calls.length, 3);
  });

  it("leaves a frame with another member of its oneof beside the dispatch to the generated decoder (the last one wins)", () => {
    // A frame's fields as the gateway writes them (metadata, dispatch), then one more field after or before them.
    const dispatchBytes = fieldValue(Buffer.from(ConnectResponse.encode({ frames: [dispatchFrame([envelope(1), envelope(2)])] }).finish()));
    const cancel = lengthDelimited(5, lengthDelimitedBytes((w) => w.uint32(8).uint32(3)));
    const heartbeat = lengthDelimited(6, Buffer.alloc(0));
    for (const frame of [
      Buffer.concat([dispatchBytes, cancel]),
      Buffer.concat([cancel, dispatchBytes]),
      Buffer.concat([dispatchBytes, heartbeat]),
      Buffer.concat([dispatchBytes, Buffer.from([(99 << 3) | 0, 1])]),
    ]) {
      const message = lengthDelimited(1, frame);
      assert.deepEqual(readAll(deserializeConnectResponse(message)), ConnectResponse.decode(message));
    }
    const last = deserializeConnectResponse(lengthDelimited(1, Buffer.concat([dispatchBytes, cancel]))).frames[0]!.frame;
    assert.equal(last?.$case, "cancel");
  });

  it("fails only the dispatch whose history envelope is no EventEnvelope, when the envelope is read", () => {
    const good = fieldValue(Buffer.from(ConnectResponse.encode({ frames: [dispatchFrame([envelope(1)])] }).finish()));
    // An envelope of one tag with wire type 7, which no message has.
    const broken = lengthDelimited(4, Buffer.concat([lengthDelimitedBytes((w) => w.uint32(8).uint32(9)), lengthDelimited(7, Buffer.from([(1 << 3) | 7]))]));
    const message = Buffer.concat([lengthDelimited(1, broken), lengthDelimited(1, good)]);
    assert.throws(() => ConnectResponse.decode(message), /wire type 7/, "the generated decoder refuses the whole message");
    const [first, second] = deserializeConnectResponse(message).frames.map((frame) => frame.frame);
    assert.ok(first?.$case === "dispatch" && second?.$case === "dispatch");
    assert.throws(() => first.value.history[0]!.sequence, /wire type 7/);
    assert.equal(second.value.history[0]!.sequence, "1");
  });

  it("keeps a dispatch's history bytes alive while it runs, not the whole link message it came in", async () => {
    const gc = collector();
    const bigEnvelope = (sequence: number): EventEnvelope => ({ ...envelope(sequence), payload: Buffer.alloc(1000, sequence) });
    const kept: GatewayFrame[] = [];
    const messages: WeakRef<ArrayBufferLike>[] = [];
    const receive = () => {
      // A link message of ~1 MiB: a hundred dispatches of ten envelopes; one dispatch of each still runs, unread.
      const frames = Array.from({ length: 100 }, () => dispatchFrame(Array.from({ length: 10 }, (_, n) => bigEnvelope(n + 1))));
      const bytes = Buffer.from(ConnectResponse.encode({ frames }).finish());
      messages.push(new WeakRef(bytes.buffer));
      kept.push(deserializeConnectResponse(bytes).frames[0]!);
    };
    for (let message = 0; message < 3; message++) receive();
    // A WeakRef holds its target until the job that made it ends; a collection may leave what the last one touched.
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    assert.deepEqual(
      messages.map((message) => message.deref() === undefined),
      [true, true, true],
      "no link message is kept alive by the dispatch that came in it",
    );
    for (const frame of kept) {
      assert.equal(frame.frame?.$case, "dispatch");
      assert.deepEqual(frame.frame.value.history.map((e) => e.payload[0]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
  });
});

/** The value of the first field of `message` (its first frame's bytes). */
function fieldValue(message: Buffer): Buffer {
  let at = 1;
  let length = 0;
  for (let factor = 1; ; factor *= 128) {
    const byte = message[at++]!;
    length += (byte & 0x7f) * factor;
    if (byte < 0x80) break;
  }
  return message.subarray(at, at + length);
}

function lengthDelimited(field: number, value: Uint8Array): Buffer {
  return Buffer.from(new BinaryWriter().uint32((field << 3) | 2).bytes(value).finish());
}

function lengthDelimitedBytes(write: (writer: BinaryWriter) => BinaryWriter): Buffer {
  return Buffer.from(write(new BinaryWriter()).finish());
}

/** A full garbage collection, for a test that measures what stays reachable. */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}
