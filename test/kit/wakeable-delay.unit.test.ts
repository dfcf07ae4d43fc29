import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { WakeableDelay } from "@recq-mesh/protocol";

describe("WakeableDelay", () => {
  it("waits its time, or less when woken", async () => {
    // The delay's own timer is unref'd (it must not keep a process alive): keep this test's process up.
    const keepAlive = setInterval(() => undefined, 1_000);
    const delay = new WakeableDelay();
    let started = Date.now();
    await delay.wait(30);
    assert.ok(Date.now() - started >= 25, "waited about its time");
    started = Date.now();
    const waiting = delay.wait(10_000);
    delay.wake();
    await waiting;
    assert.ok(Date.now() - started < 1_000, "woken at once");
    delay.wake(); // nothing waiting: no effect
    clearInterval(keepAlive);
  });
});
