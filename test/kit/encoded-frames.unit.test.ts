import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { EncodedFrames, frameFieldBytes, varintBytes } from "@recq-mesh/protocol";
import { ConnectRequest, HandlerFrame } from "@recq-mesh/protocol/gen/recq/v1/link";

/** Frames whose sizes an estimate gets wrong: text outside ASCII, long metadata, lengths around varint steps. */
function frames(): HandlerFrame[] {
  const events = (count: number, bytes: number) =>
    Array.from({ length: count }, (_, n) => ({ type: `todo.v1.Événement${n}`, payload: Buffer.alloc(bytes, n), metadata: { traceparent: "00-".padEnd(55, "a"), 名前: "値".repeat(n) } }));
  return [
    { metadata: {}, frame: { $case: "permits", value: { count: 0xffffffff } } },
    { metadata: {}, frame: { $case: "heartbeat", value: {} } },
    { metadata: {}, frame: { $case: "reply", value: { requestId: 1, outcome: { $case: "answer", value: { payload: Buffer.alloc(127) } } } } },
    { metadata: {}, frame: { $case: "reply", value: { requestId: 300, outcome: { $case: "answer", value: { payload: Buffer.alloc(16_384) } } } } },
    { metadata: {}, frame: { $case: "reply", value: { requestId: 0xffffffff, outcome: { $case: "command", value: { events: events(5, 200), snapshot: undefined } } } } },
    { metadata: {}, frame: { $case: "reply", value: { requestId: 7, outcome: { $case: "failure", value: { code: 9, message: "règle ✗".repeat(40), reason: "DOMAIN_RULE" } } } } },
    {
      metadata: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-a1b2c3d4e5f60718-01", tracestate: "ü=1" },
      frame: { $case: "call", value: { callId: 2 ** 31, method: "todo.v1.TodoListCommandService/CreateTodoList", payload: Buffer.alloc(3000), headers: { "recq-command-id": "é".repeat(64) }, timeoutMs: 30_000 } },
    },
  ];
}

describe("EncodedFrames", () => {
  it("sizes each frame as it takes in a link message, and the message is byte for byte the generated encoder's", () => {
    const encoded = new EncodedFrames(HandlerFrame);
    const all = frames();
    const sizes = all.map((frame) => encoded.bytesInMessage(frame));
    const expected = Buffer.from(ConnectRequest.encode({ frames: all }).finish());
    for (const [index, frame] of all.entries()) {
      assert.equal(sizes[index], ConnectRequest.encode({ frames: [frame] }).finish().length, `frame ${index} sized exactly`);
    }
    const message = encoded.serialize(all);
    assert.equal(message.length, sizes.reduce((sum, size) => sum + size, 0));
    assert.deepEqual(message, expected);
  });

  it("sends a frame as it was when sized, and encodes one never sized (or forgotten) as it is when sent", () => {
    const encoded = new EncodedFrames(HandlerFrame);
    const sized: HandlerFrame = { metadata: {}, frame: { $case: "permits", value: { count: 1 } } };
    const unsized: HandlerFrame = { metadata: {}, frame: { $case: "permits", value: { count: 1 } } };
    const forgotten: HandlerFrame = { metadata: {}, frame: { $case: "permits", value: { count: 1 } } };
    encoded.bytesInMessage(sized);
    encoded.bytesInMessage(forgotten);
    encoded.forget(forgotten);
    for (const frame of [sized, unsized, forgotten]) if (frame.frame?.$case === "permits") frame.frame.value.count = 500;
    const counts = ConnectRequest.decode(encoded.serialize([sized, unsized, forgotten])).frames.map((frame) => (frame.frame?.$case === "permits" ? frame.frame.value.count : -1));
    assert.deepEqual(counts, [1, 500, 500]);
  });

  it("counts varint lengths at their steps", () => {
    assert.deepEqual([0, 127, 128, 16_383, 16_384, 2 ** 32 - 1, 2 ** 35].map(varintBytes), [1, 1, 2, 2, 3, 5, 6]);
    assert.equal(frameFieldBytes(127), 129);
    assert.equal(frameFieldBytes(128), 131);
  });
});
