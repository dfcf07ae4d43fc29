import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/protocol";
import { KeyedQueue } from "@recq-mesh/gateway/internal/commands/keyed-queue";
import { Cancellation } from "@recq-mesh/gateway/internal/server/cancellation";

/** A task that runs until released, recording when it started. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { task: async () => (log.push(name), await done, name), release: () => release() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("KeyedQueue", () => {
  it("runs a key's tasks one at a time in arrival order, other keys alongside", async () => {
    const queue = new KeyedQueue({ maxPerKey: 10, maxTotal: 10 });
    const log: string[] = [];
    const [a1, a2, b1] = [gate(log, "a1"), gate(log, "a2"), gate(log, "b1")];
    const results = [queue.run("a", "a", a1.task), queue.run("a", "a", a2.task), queue.run("b", "b", b1.task)];
    await tick();
    assert.deepEqual(log, ["a1", "b1"]);
    a1.release();
    await tick();
    assert.deepEqual(log, ["a1", "b1", "a2"]);
    a2.release();
    b1.release();
    assert.deepEqual(await Promise.all(results), ["a1", "a2", "b1"]);
    assert.equal(queue.pending, 0);
  });

  it("refuses past the per-key and total bounds", async () => {
    const queue = new KeyedQueue({ maxPerKey: 2, maxTotal: 3 });
    const log: string[] = [];
    const gates = [gate(log, "1"), gate(log, "2"), gate(log, "3")];
    const results = [queue.run("a", "A", gates[0]!.task), queue.run("a", "A", gates[1]!.task)];
    assert.throws(() => queue.run("a", "A", gates[2]!.task), /2 commands are already queued for aggregate A \(limit 2\)/);
    results.push(queue.run("b", "B", gates[2]!.task));
    assert.throws(() => queue.run("c", "C", gates[2]!.task), (error: unknown) => error instanceof MeshError && error.code === status.RESOURCE_EXHAUSTED);
    for (const g of gates) g.release();
    await Promise.all(results);
  });

  it("drops a waiting task whose signal aborts: it rejects at once, frees its place, and never runs", async () => {
    const queue = new KeyedQueue({ maxPerKey: 2, maxTotal: 10 });
    const log: string[] = [];
    const [first, abandoned, next] = [gate(log, "first"), gate(log, "abandoned"), gate(log, "next")];
    const running = queue.run("a", "A", first.task);
    const signal = new Cancellation();
    const waiting = queue.run("a", "A", abandoned.task, signal);
    assert.throws(() => queue.run("a", "A", next.task), /limit 2/);
    signal.abort(new Error("caller gone"));
    await assert.rejects(waiting, /caller gone/);
    assert.equal(queue.pending, 1);
    const after = queue.run("a", "A", next.task);
    first.release();
    next.release();
    assert.equal(await running, "first");
    assert.equal(await after, "next");
    assert.deepEqual(log, ["first", "next"]);
    await tick();
    assert.equal(queue.pending, 0);
  });

  it("keeps no memory for callers who left while the head of their lane runs long", async () => {
    const queue = new KeyedQueue({ maxPerKey: 2, maxTotal: 10 });
    const log: string[] = [];
    const head = gate(log, "head");
    const running = queue.run("a", "A", head.task);
    for (let i = 0; i < 10_000; i++) {
      const signal = new Cancellation();
      const waiting = queue.run("a", "A", gate(log, `w${i}`).task, signal);
      signal.abort(new Error("gone"));
      await assert.rejects(waiting, /gone/);
    }
    // What a lane keeps is private: read its array's length, the only way to see the memory it holds.
    const lanes = (queue as unknown as { lanes: Map<string, { waiting: unknown[] }> }).lanes;
    assert.ok(lanes.get("a")!.waiting.length < 128, `${lanes.get("a")!.waiting.length} entries kept`);
    head.release();
    assert.equal(await running, "head");
    assert.deepEqual(log, ["head"]);
  });

  it("runs a task whose signal aborts only once it has started, as any other", async () => {
    const queue = new KeyedQueue({ maxPerKey: 2, maxTotal: 10 });
    const log: string[] = [];
    const only = gate(log, "only");
    const signal = new Cancellation();
    const result = queue.run("a", "A", only.task, signal);
    signal.abort(new Error("late"));
    only.release();
    assert.equal(await result, "only");
  });
});
