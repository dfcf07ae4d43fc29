import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { ConnectResponse, type GatewayFrame } from "@recq-mesh/protocol/gen/recq/v1/link";
import { encodedEnvelope, serializeConnectResponse } from "@recq-mesh/gateway/internal/links/event-wire-cache";

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
    // The same envelopes in a later dispatch are the same bytes, encoded once.
    assert.equal(encodedEnvelope(history[1]!), encodedEnvelope(history[1]!));
    assert.deepEqual(ConnectResponse.decode(serializeConnectResponse({ frames: [dispatchFrame(history)] })).frames[0], decoded.frames[0]);
  });
});
