import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { SerialPump } from "@recq-mesh/gateway/internal/consumers/serial-pump";

/** A step that waits until released, counting its runs and how many ran at once. */
function gatedStep() {
  const state = { runs: 0, running: 0, most: 0, release: () => undefined as void };
  const step = async () => {
    state.runs += 1;
    state.running += 1;
    state.most = Math.max(state.most, state.running);
    await new Promise<void>((resolve) => (state.release = resolve));
    state.running -= 1;
  };
  return { state, step };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("SerialPump", () => {
  it("runs one step at a time, and once more after wakes that came while it ran, however many", async () => {
    const { state, step } = gatedStep();
    const pump = new SerialPump(step, () => false, (thrown) => assert.fail(String(thrown)));
    pump.wake();
    pump.wake();
    pump.wake();
    await settle();
    assert.equal(state.runs, 1);
    state.release();
    await settle();
    assert.equal(state.runs, 2, "the wakes during the first run make one more");
    state.release();
    await settle();
    assert.equal(state.runs, 2, "and no more");
    assert.equal(state.most, 1, "never two at once");
  });

  it("does not run again once stopped, and hands what a step throws to fail, then runs on the next wake", async () => {
    let stopped = false;
    const { state, step } = gatedStep();
    const pump = new SerialPump(step, () => stopped, () => undefined);
    pump.wake();
    pump.wake();
    stopped = true;
    state.release();
    await settle();
    assert.equal(state.runs, 1, "stopped: the pending wake is dropped");

    const failures: unknown[] = [];
    let calls = 0;
    const failing = new SerialPump(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error("store gone");
      },
      () => false,
      (thrown) => failures.push(thrown),
    );
    failing.wake();
    await settle();
    assert.deepEqual(failures.map(String), ["Error: store gone"]);
    failing.wake();
    await settle();
    assert.equal(calls, 2, "a failed run does not leave the pump stuck");
  });
});
