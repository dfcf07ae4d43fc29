import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/protocol";
import { KeyedQueue } from "@recq-mesh/gateway/internal/commands/keyed-queue";
import { ProjectionPositions } from "@recq-mesh/gateway/internal/consumers/projection-positions";
import type { HandlerLink } from "@recq-mesh/gateway/internal/links/handler-link";
import { MethodRouter } from "@recq-mesh/gateway/internal/routing/method-router";
import { Cancellation } from "@recq-mesh/gateway/internal/server/cancellation";

/** The router reads only a link's id, load and permits. */
function link(id: string, load = 0): HandlerLink {
  return { id, load, permits: 10 } as unknown as HandlerLink;
}

const PATH = "/todo.v1.TodoListCommandService/CreateTodoList";

describe("MethodRouter", () => {
  it("keeps a routing key on its instance while it lives, even when another instance joins", () => {
    const router = new MethodRouter({ maxAffinityEntries: 1000 });
    const a = link("a");
    router.subscribe(PATH, { link: a, loadFactor: 100, projection: "" });
    const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
    for (const key of keys) assert.equal(router.pick(PATH, key)?.link, a);
    const b = link("b");
    router.subscribe(PATH, { link: b, loadFactor: 100, projection: "" });
    for (const key of keys) assert.equal(router.pick(PATH, key)?.link, a, `${key} stays on a`);
    const fresh = Array.from({ length: 200 }, (_, i) => router.pick(PATH, `new-${i}`)?.link.id);
    assert.ok(fresh.filter((id) => id === "b").length > 60, "new keys spread to b");
    router.removeLink(a);
    for (const key of keys) assert.equal(router.pick(PATH, key)?.link, b, "a's keys move when it goes");
  });

  it("sends calls without a key to the least loaded instance, weighted by load factor", () => {
    const router = new MethodRouter({ maxAffinityEntries: 10 });
    router.subscribe(PATH, { link: link("busy", 10), loadFactor: 100, projection: "" });
    router.subscribe(PATH, { link: link("idle", 1), loadFactor: 100, projection: "" });
    for (let i = 0; i < 5; i++) assert.equal(router.pick(PATH, undefined)?.link.id, "idle");
    router.subscribe(PATH, { link: link("big", 10), loadFactor: 10_000, projection: "" });
    assert.equal(router.pick(PATH, undefined)?.link.id, "big");
  });

  it("reports route changes and has no route once the last handler goes", () => {
    const router = new MethodRouter({ maxAffinityEntries: 10 });
    const changes: string[] = [];
    router.onChange((path) => changes.push(path));
    const a = link("a");
    router.subscribe(PATH, { link: a, loadFactor: 100, projection: "" });
    assert.ok(router.hasRoute(PATH));
    router.unsubscribe(a, PATH);
    assert.equal(router.hasRoute(PATH), false);
    assert.equal(router.pick(PATH, "k"), undefined);
    assert.deepEqual(changes, [PATH, PATH]);
  });
});

describe("KeyedQueue", () => {
  it("runs one task at a time per key, in order, and keys in parallel", async () => {
    const queue = new KeyedQueue({ maxPerKey: 10, maxTotal: 100 });
    const log: string[] = [];
    const task = (name: string, ms: number) => () => new Promise<string>((resolve) => setTimeout(() => (log.push(name), resolve(name)), ms));
    await Promise.all([queue.run("x", "x", task("x1", 30)), queue.run("x", "x", task("x2", 1)), queue.run("y", "y", task("y1", 5))]);
    assert.deepEqual(log, ["y1", "x1", "x2"]);
    assert.equal(queue.pending, 0);
  });

  it("keeps going after a failed task, and refuses past its bounds", async () => {
    const queue = new KeyedQueue({ maxPerKey: 2, maxTotal: 3 });
    const failed = queue.run("x", "x", async () => {
      throw new Error("boom");
    });
    const next = queue.run("x", "x", async () => "next");
    assert.throws(() => queue.run("x", "x", async () => "third"), (e: unknown) => e instanceof MeshError && e.code === status.RESOURCE_EXHAUSTED);
    void queue.run("y", "y", async () => "y");
    assert.throws(() => queue.run("z", "z", async () => "z"), /commands queued \(limit 3\)/);
    await assert.rejects(failed, /boom/);
    assert.equal(await next, "next");
  });
});

describe("ProjectionPositions", () => {
  it("releases waiters as the projection advances, and rejects on deadline with where it stands", async () => {
    const positions = new ProjectionPositions();
    let released = false;
    const waiting = positions.waitFor("p", 5, new Cancellation()).then(() => (released = true));
    positions.advance("p", 4);
    await new Promise((r) => setImmediate(r));
    assert.equal(released, false);
    positions.advance("p", 5);
    await waiting;
    assert.equal(released, true);

    const late = new Cancellation();
    const stuck = positions.waitFor("p", 9, late);
    late.abort(new MeshError(status.DEADLINE_EXCEEDED, "deadline"));
    await assert.rejects(stuck, /projection p had not reached position 9 \(it is at 5\)/);
    positions.reset("p", 0);
    assert.equal(positions.positionOf("p"), 0, "a new active instance starts from its own checkpoint");
  });
});

describe("Cancellation", () => {
  it("runs each listener once with the first reason, and not a removed one", () => {
    const cancellation = new Cancellation();
    const heard: unknown[] = [];
    cancellation.onAbort(() => heard.push(cancellation.reason));
    const removed = cancellation.onAbort(() => heard.push("removed"));
    removed();
    cancellation.abort("first");
    cancellation.abort("second");
    assert.deepEqual(heard, ["first"]);
    cancellation.onAbort(() => heard.push("late"));
    assert.deepEqual(heard, ["first", "late"], "a listener added after the abort runs at once");
  });
});
