import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { AnswerWindow } from "@recq-mesh/kit/internal/link/answer-window";
import { RequestChunks } from "@recq-mesh/kit/internal/link/request-chunks";

describe("RequestChunks: an upload's messages as the handler reads them", () => {
  it("grants its window at once and one more per message taken, so at most the window waits", async () => {
    const grants: number[] = [];
    const chunks = new RequestChunks((count) => grants.push(count), 4);
    assert.deepEqual(grants, [4]);
    for (const n of [1, 2, 3]) chunks.push(Buffer.from([n]), false);
    chunks.push(Buffer.alloc(0), true);
    const read: number[] = [];
    for await (const chunk of chunks) read.push(chunk[0]!);
    assert.deepEqual(read, [1, 2, 3]);
    assert.deepEqual(grants, [4, 1, 1, 1]);
  });

  it("waits for messages that have not come yet, and ends at the end", async () => {
    const chunks = new RequestChunks(() => undefined, 2);
    const reading = (async () => {
      const read: string[] = [];
      for await (const chunk of chunks) read.push(chunk.toString());
      return read;
    })();
    await new Promise((r) => setImmediate(r));
    chunks.push(Buffer.from("a"), false);
    await new Promise((r) => setImmediate(r));
    chunks.push(Buffer.from("b"), false);
    chunks.push(Buffer.alloc(0), true);
    assert.deepEqual(await reading, ["a", "b"]);
  });

  it("throws the cancel's reason to a reader, also one waiting, and before messages still waiting", async () => {
    const waiting = new RequestChunks(() => undefined, 2);
    const reason = new Error("cut off");
    const reading = (async () => {
      for await (const chunk of waiting) void chunk;
    })();
    await new Promise((r) => setImmediate(r));
    waiting.fail(reason);
    await assert.rejects(reading, (error: unknown) => error === reason);

    const buffered = new RequestChunks(() => undefined, 2);
    buffered.push(Buffer.from("x"), false);
    buffered.push(Buffer.alloc(0), true);
    buffered.fail(reason);
    await assert.rejects(
      (async () => {
        for await (const chunk of buffered) void chunk;
      })(),
      (error: unknown) => error === reason,
    );
  });

  it("can be read only once", async () => {
    const chunks = new RequestChunks(() => undefined, 1);
    chunks.push(Buffer.alloc(0), true);
    for await (const chunk of chunks) void chunk;
    await assert.rejects(
      (async () => {
        for await (const chunk of chunks) void chunk;
      })(),
      /can be read only once/,
    );
  });
});

describe("AnswerWindow: a streaming query's answers ahead of its caller", () => {
  it("lets `window` answers through, then waits for grants, one answer per grant", async () => {
    const window = new AnswerWindow(2);
    await window.reserve();
    await window.reserve();
    let third = false;
    const waiting = window.reserve().then(() => (third = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(third, false);
    window.grant(1);
    await waiting;
    assert.equal(third, true);
  });

  it("counts answers sent without waiting (emit) against the window", async () => {
    const window = new AnswerWindow(1);
    window.took();
    let sent = false;
    const waiting = window.reserve().then(() => (sent = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(sent, false);
    window.grant(1);
    await waiting;
  });

  it("never waits without a window (0: an older gateway), and lets every waiter go when closed", async () => {
    const open = new AnswerWindow(0);
    for (let i = 0; i < 100; i++) await open.reserve();
    const window = new AnswerWindow(1);
    await window.reserve();
    const waiters = [window.reserve(), window.reserve()];
    window.close();
    await Promise.all(waiters);
  });
});
