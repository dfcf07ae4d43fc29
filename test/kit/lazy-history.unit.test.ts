import assert from "node:assert/strict";
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
});
