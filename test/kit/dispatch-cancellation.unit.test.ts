import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { DispatchCancellation } from "@recq-mesh/kit/internal/link/dispatch-cancellation";

describe("DispatchCancellation", () => {
  it("aborts a signal that was asked for before the cancel, with the reason, and runs onCancel once", () => {
    let cancels = 0;
    const cancellation = new DispatchCancellation(() => (cancels += 1));
    const signal = cancellation.signal;
    let heard: unknown;
    signal.addEventListener("abort", () => (heard = signal.reason));
    assert.equal(signal.aborted, false);
    cancellation.cancel("gone");
    cancellation.cancel("again");
    assert.equal(signal.aborted, true);
    assert.equal(heard, "gone");
    assert.equal(cancels, 1);
    assert.equal(cancellation.cancelled, true);
  });

  it("gives an already aborted signal when first asked for after the cancel", () => {
    const cancellation = new DispatchCancellation(() => undefined);
    cancellation.cancel(new Error("link lost"));
    assert.equal(cancellation.signal.aborted, true);
    assert.match(String(cancellation.signal.reason), /link lost/);
    assert.equal(cancellation.signal, cancellation.signal);
  });

  it("runs onCancel before the signal's listeners, so a handler that answers on abort is not counted twice", () => {
    const order: string[] = [];
    const cancellation = new DispatchCancellation(() => order.push("onCancel"));
    cancellation.signal.addEventListener("abort", () => order.push("listener"));
    cancellation.cancel("stop");
    assert.deepEqual(order, ["onCancel", "listener"]);
  });
});
