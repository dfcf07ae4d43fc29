import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { MeshService } from "@recq-mesh/kit";
import { waitForCatchUp, type CatchingUp } from "@recq-mesh/kit/internal/consumer/catch-up-wait";

interface Line {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

function logger(lines: Line[]) {
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A projector stand-in whose catch-up the test decides. */
function projector(head: number): CatchingUp & { reach(position: number): void } {
  let resolve: () => void = () => undefined;
  const caughtUp = new Promise<void>((r) => (resolve = r));
  const state = { reflected: 0, head };
  return {
    caughtUp: () => caughtUp,
    get catchUp() {
      return state;
    },
    reach(position: number) {
      state.reflected = position;
      if (position >= head) resolve();
    },
  };
}

describe("waiting for a projection to catch up", () => {
  it("ends when the projection reaches its head, logging progress meanwhile and no error", async () => {
    const lines: Line[] = [];
    const p = projector(100);
    const waiting = waitForCatchUp(p, { consumer: "views", timeoutMs: 10_000, progressIntervalMs: 10, logger: logger(lines), signal: new AbortController().signal });
    p.reach(40);
    await new Promise((r) => setTimeout(r, 35));
    p.reach(100);
    assert.equal(await waiting, "caught-up");
    assert.ok(lines.some((l) => l.message === "queries wait for their projection to catch up" && l.fields.position === 40 && l.fields.head === 100));
    assert.equal(lines.at(-1)?.message, "projection caught up: its queries are served");
    assert.ok(!lines.some((l) => l.level === "error"));
  });

  it("gives up at the limit with an error naming the projection, its position and the head", async () => {
    const lines: Line[] = [];
    const p = projector(100);
    p.reach(60);
    assert.equal(await waitForCatchUp(p, { consumer: "views", timeoutMs: 20, logger: logger(lines), signal: new AbortController().signal }), "timed-out");
    const error = lines.find((l) => l.level === "error");
    assert.deepEqual(error?.fields, { consumer: "views", position: 60, head: 100, timeoutMs: 20 });
    p.reach(100);
    await new Promise((r) => setImmediate(r));
    assert.ok(!lines.some((l) => l.message === "projection caught up: its queries are served"), "a late catch-up after the limit logs nothing more");
  });

  it("ends with `stopped` when the service stops first", async () => {
    const stop = new AbortController();
    const waiting = waitForCatchUp(projector(5), { consumer: "views", timeoutMs: 10_000, logger: logger([]), signal: stop.signal });
    stop.abort();
    assert.equal(await waiting, "stopped");
  });

  it("refuses a catchUpTimeoutMs that is not a positive integer", () => {
    for (const catchUpTimeoutMs of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new MeshService({ address: "127.0.0.1:1", component: "x", catchUpTimeoutMs }), /catchUpTimeoutMs must be a positive integer/);
    }
  });
});
