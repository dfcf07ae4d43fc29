import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { ConnectResponse, Dispatch, type GatewayFrame } from "@recq-mesh/protocol/gen/recq/v1/link";
import {
  dispatchFrameBytes,
  encodedHistory,
  forgetEncodedDispatch,
  SpareWriter,
  serializeConnectResponse,
} from "@recq-mesh/gateway/internal/links/event-wire-cache";

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

  it("measure a dispatch frame as the bytes it takes in a link message, exactly (what a handler's limit is checked against)", () => {
    // Long ids and text outside ASCII (a UTF-16 length is not a UTF-8 one), headers, a snapshot, and histories from
    // none to dozens of events (length prefixes of two and three bytes).
    const wide = (text: string, length: number) => text.repeat(Math.ceil(length / text.length)).slice(0, length);
    const frameOf = (history: EventEnvelope[], pad: number): GatewayFrame => {
      const frame = dispatchFrame(history);
      assert.equal(frame.frame?.$case, "dispatch");
      return {
        metadata: { traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01`, "x-région": wide("é", 40) },
        frame: {
          $case: "dispatch",
          value: {
            ...frame.frame.value,
            requestId: 4_000_000_000,
            commandId: wide("c", 128),
            aggregateId: wide("列表ü", 170 + pad),
            snapshot: { sequence: "123456789", type: wide("Zustand·", 60), payload: Buffer.alloc(pad, 1) },
            headers: { "x-name": wide("名前", 90) },
          },
        },
      };
    };
    const frames: GatewayFrame[] = [];
    for (const events of [0, 1, 2, 90, 95]) {
      for (let pad = 0; pad < 130; pad += 13) frames.push(frameOf(Array.from({ length: events }, (_, n) => ({ ...envelope(n + 1), aggregateId: wide("列表ü", 170) })), pad));
    }
    for (const frame of frames) {
      const message = serializeConnectResponse({ frames: [frame] });
      assert.equal(message.length, ConnectResponse.encode({ frames: [frame] }).finish().length);
      assert.equal(dispatchFrameBytes(frame, (frame.frame as { value: Dispatch }).value), message.length);
    }
    const batch = frames.slice(0, 20);
    const total = batch.reduce((sum, frame) => sum + dispatchFrameBytes(frame, (frame.frame as { value: Dispatch }).value), 0);
    assert.equal(serializeConnectResponse({ frames: batch }).length, total, "a message of frames is the sum of their bytes");
    assert.deepEqual(ConnectResponse.decode(serializeConnectResponse({ frames: batch })), ConnectResponse.decode(ConnectResponse.encode({ frames: batch }).finish()));
  });

  it("let go of a dispatch's encoding, its history's bytes with it, when the dispatch is not sent", () => {
    const history = [envelope(1), envelope(2)];
    const frame = dispatchFrame(history);
    const dispatch = (frame.frame as { value: Dispatch }).value;
    dispatchFrameBytes(frame, dispatch);
    const cached = encodedHistory(history);
    assert.equal(encodedHistory(history).buffer, cached.buffer);
    forgetEncodedDispatch(frame, dispatch);
    assert.notEqual(encodedHistory(history).buffer, cached.buffer);
  });

  it("keep room for appends to a long history's bytes of at most 64 KiB", () => {
    const history = Array.from({ length: 2000 }, (_, n) => ({ ...envelope(n + 1), payload: Buffer.alloc(500, n % 256) }));
    assert.ok(encodedHistory(history).length > 1024 * 1024);
    for (let n = 0; n < 200; n++) {
      history.push({ ...envelope(2001 + n), payload: Buffer.alloc(500, 1) });
      const bytes = encodedHistory(history);
      assert.ok(bytes.buffer.byteLength <= bytes.length + 64 * 1024, `${bytes.buffer.byteLength} bytes kept for ${bytes.length}`);
    }
    const small = [envelope(1)];
    small.push(envelope(2));
    assert.ok(encodedHistory(small).buffer.byteLength <= 2 * encodedHistory(small).length);
  });

  it("keep a reused writer only while its buffer is within 1 MiB, however short the message that grew it", () => {
    const writers = new SpareWriter();
    const writer = writers.take();
    // A long string reserves three bytes a character while it is written: a 400 kB message grows the writer to 2 MiB.
    assert.ok(writer.string("n".repeat(400_000)).finish().length < 1024 * 1024);
    writers.giveBack(writer);
    assert.equal(writers.keptBytes, 0);
    const next = writers.take();
    assert.notEqual(next, writer);
    next.string("n".repeat(100_000)).finish();
    writers.giveBack(next);
    assert.ok(writers.keptBytes > 0 && writers.keptBytes <= 1024 * 1024, `${writers.keptBytes} bytes kept`);
    assert.equal(writers.take(), next, "a writer within the bound is kept for the next message");
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
