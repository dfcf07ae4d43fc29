import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { ConnectResponse, Dispatch, type GatewayFrame } from "@recq-mesh/protocol/gen/recq/v1/link";
import { encodedHistory, encodedHistoryLength, serializeConnectResponse } from "@recq-mesh/gateway/internal/links/event-wire-cache";

const envelope = (sequence: number): EventEnvelope => ({
  position: String(100 + sequence),
  aggregateType: "todo.v1.TodoList",
  aggregateId: "list-1",
  sequence: String(sequence),
  type: "todo.v1.TodoItemAdded",
  payload: Buffer.from([sequence, 1, 2, 3]),
  time: new Date(1_700_000_000_000 + sequence),
  commandId: `cmd-${sequence}`,
  metadata: { traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01` },
});

const dispatchFrame = (history: EventEnvelope[]): GatewayFrame => ({
  metadata: { "x-tenant": "acme" },
  frame: {
    $case: "dispatch",
    value: {
      requestId: 7,
      requestStream: false,
      answerWindow: 0,
      method: "todo.v1.TodoListCommandService/AddTodoItem",
      payload: Buffer.from("request"),
      commandId: "cmd-9",
      aggregateId: "list-1",
      snapshot: { sequence: "4", type: "todo.v1.TodoListState", payload: Buffer.from("state") },
      history,
      timeoutMs: 2500,
      headers: { "x-request": "r1" },
    },
  },
});

describe("link serializers with cached event bytes", () => {
  it("encode a ConnectResponse that decodes to the same frames as the generated encoder's", () => {
    const history = [envelope(5), envelope(6), envelope(7)];
    const response: ConnectResponse = {
      frames: [
        dispatchFrame(history),
        { metadata: {}, frame: { $case: "cancel", value: { requestId: 3, reason: "caller cancelled" } } },
        dispatchFrame([]),
      ],
    };
    const decoded = ConnectResponse.decode(serializeConnectResponse(response));
    assert.deepEqual(decoded, ConnectResponse.decode(ConnectResponse.encode(response).finish()));
    const first = decoded.frames[0]!.frame;
    assert.equal(first?.$case, "dispatch");
    assert.deepEqual(first.value.history.map((e) => e.sequence), ["5", "6", "7"]);
    // The same history in a later dispatch is the same bytes, encoded once.
    assert.equal(encodedHistory(history).buffer, encodedHistory(history).buffer);
    assert.deepEqual(ConnectResponse.decode(serializeConnectResponse({ frames: [dispatchFrame(history)] })).frames[0], decoded.frames[0]);
  });

  it("extend a history's bytes when events are appended to it, and encode a history that changed in front afresh", () => {
    const history = [envelope(1), envelope(2)];
    const historyOf = (frames: GatewayFrame[]) => {
      const frame = ConnectResponse.decode(serializeConnectResponse({ frames })).frames[0]!.frame;
      assert.equal(frame?.$case, "dispatch");
      return frame.value.history;
    };
    assert.deepEqual(historyOf([dispatchFrame(history)]), history);
    const before = encodedHistory(history).length;
    history.push(envelope(3));
    assert.deepEqual(historyOf([dispatchFrame(history)]), history);
    assert.ok(encodedHistory(history).length > before);
    // What a snapshot does to a cached entry is a new array; shrinking or replacing in place is caught too.
    history.splice(0, 2);
    assert.deepEqual(historyOf([dispatchFrame(history)]), [envelope(3)]);
    history[0] = envelope(9);
    assert.deepEqual(historyOf([dispatchFrame(history)]), [envelope(9)]);
  });

  it("measure a history as the bytes it takes in a Dispatch, exactly (what a handler's message limit is checked against)", () => {
    const history = [envelope(1), envelope(2), { ...envelope(3), payload: Buffer.alloc(300, 7) }];
    const frame = dispatchFrame(history).frame;
    assert.equal(frame?.$case, "dispatch");
    const withHistory = Dispatch.encode(frame.value).finish().length;
    const without = Dispatch.encode({ ...frame.value, history: [] }).finish().length;
    assert.equal(encodedHistoryLength(history), withHistory - without);
    assert.equal(encodedHistoryLength([]), 0);
  });

  it("give every message bytes of its own, however large the one before was", () => {
    const large = Array.from({ length: 3000 }, (_, n) => ({ ...envelope(n), payload: Buffer.alloc(500, n % 256) }));
    const small = dispatchFrame([envelope(1)]);
    const first = serializeConnectResponse({ frames: [small] });
    const big = serializeConnectResponse({ frames: [dispatchFrame(large)] });
    const second = serializeConnectResponse({ frames: [small] });
    const third = serializeConnectResponse({ frames: [dispatchFrame([envelope(2)])] });
    assert.ok(big.length > 1024 * 1024);
    assert.equal(ConnectResponse.decode(big).frames[0]?.frame?.$case, "dispatch");
    assert.deepEqual(ConnectResponse.decode(first), ConnectResponse.decode(second));
    assert.notDeepEqual(ConnectResponse.decode(second), ConnectResponse.decode(third));
    assert.deepEqual(ConnectResponse.decode(first).frames[0], ConnectResponse.decode(ConnectResponse.encode({ frames: [small] }).finish()).frames[0]);
  });
});
