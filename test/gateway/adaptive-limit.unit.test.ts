import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { AdaptiveLimit } from "@recq-mesh/gateway/internal/admission/adaptive-limit";
import { RoundTripBaselines } from "@recq-mesh/gateway/internal/admission/round-trip-baselines";

const settings = { maxLimit: 1000, minLimit: 10, tolerance: 2, windowMs: 100, minSamples: 10 };

/** Feeds one window of `count` samples of `ratio` (1 ms round trips unless said), from `start` ms; the last closes it. */
function window(limit: AdaptiveLimit, start: number, ratio: number, count = 20, roundTripMs = 1): number {
  for (let i = 0; i < count; i++) limit.onSample(ratio, roundTripMs, start + (i * 100) / (count - 1));
  return start + 100;
}

describe("AdaptiveLimit", () => {
  it("starts at its ceiling and stays there while round trips are usual", () => {
    const limit = new AdaptiveLimit(settings);
    let t = 0;
    for (let w = 0; w < 5; w++) t = window(limit, t, 1.1);
    assert.equal(limit.limit, 1000);
  });

  it("cuts in proportion once the median round trip passes the tolerance, at most by half", () => {
    const limit = new AdaptiveLimit(settings);
    window(limit, 0, 3); // 2 / 3 of 1000
    assert.equal(limit.limit, 666);
    window(limit, 200, 10); // at most half
    assert.equal(limit.limit, 333);
  });

  it("does not move below its floor", () => {
    const limit = new AdaptiveLimit(settings);
    let t = 0;
    for (let w = 0; w < 20; w++) t = window(limit, t, 50);
    assert.equal(limit.limit, 10);
  });

  it("cuts once per round trip: calls sent before a cut do not cut again", () => {
    const limit = new AdaptiveLimit(settings);
    window(limit, 0, 10, 20, 50);
    assert.equal(limit.limit, 500);
    // 300 ms of round trips of calls that were sent before the cut (at 100 ms): one stall, already answered.
    for (let t = 110; t < 400; t += 10) limit.onSample(10, t + 50 - 100, t);
    assert.equal(limit.limit, 500);
    window(limit, 400, 10, 20, 50);
    assert.equal(limit.limit, 250, "calls sent after the cut still queue: cut again");
  });

  it("takes the median: a few slow round trips in a window are not congestion", () => {
    const limit = new AdaptiveLimit(settings);
    for (let i = 0; i < 15; i++) limit.onSample(1, 4, i);
    for (let i = 0; i < 5; i++) limit.onSample(100, 400, 50 + i);
    limit.onSample(1, 4, 100);
    assert.equal(limit.limit, 1000);
  });

  it("grows by its square root after a calm window only if the limit held calls back", () => {
    const limit = new AdaptiveLimit(settings);
    let t = window(limit, 0, 20);
    assert.equal(limit.limit, 500);
    t = window(limit, t, 1);
    assert.equal(limit.limit, 500, "not binding: no growth");
    limit.noteBinding();
    window(limit, t, 1);
    assert.equal(limit.limit, 500 + Math.ceil(Math.sqrt(500)));
  });

  it("keeps a window open until it has enough round trips to say something", () => {
    const limit = new AdaptiveLimit(settings);
    for (let i = 0; i < 9; i++) limit.onSample(50, 1, i * 100);
    assert.equal(limit.limit, 1000, "nine round trips over 800 ms: the window is still open");
    limit.onSample(50, 1, 900);
    assert.equal(limit.limit, 500);
  });

  it("reports the median round trip of the last window as the typical one, and each move of the limit", () => {
    const moves: number[] = [];
    const limit = new AdaptiveLimit({ ...settings, onChange: (change) => moves.push(change.limit) });
    assert.equal(limit.typicalRoundTripMs, 0);
    window(limit, 0, 1.5, 20, 6);
    assert.equal(limit.typicalRoundTripMs, 6);
    window(limit, 200, 4);
    assert.deepEqual(moves, [500]);
  });

  it("refuses settings that would refuse everything", () => {
    assert.throws(() => new AdaptiveLimit({ ...settings, minLimit: 0 }));
    assert.throws(() => new AdaptiveLimit({ ...settings, minLimit: 2000 }));
    assert.throws(() => new AdaptiveLimit({ ...settings, tolerance: 0.5 }));
  });
});

describe("RoundTripBaselines", () => {
  const settings = { bucketMs: 1000, span: 100, warmUp: 2 };

  it("reads each method against its own usual round trip", () => {
    const baselines = new RoundTripBaselines(settings);
    baselines.ratio("/q", 1, 0);
    baselines.ratio("/c", 10, 0);
    assert.equal(baselines.ratio("/q", 3, 1000), 3, "the first second's average is the baseline");
    assert.equal(baselines.ratio("/c", 20, 1000), 2, "a slow command is not compared with a fast query");
  });

  it("has no opinion during a method's first second: no usual round trip yet", () => {
    const baselines = new RoundTripBaselines(settings);
    assert.ok(Number.isNaN(baselines.ratio("/m", 4, 0)));
    assert.ok(Number.isNaN(baselines.ratio("/m", 8, 10)));
    assert.equal(baselines.ratio("/m", 12, 1000), 2, "then the first second's average, 6 ms, is the baseline");
  });

  it("averages the warm-up seconds plainly, then moves by 1 / span a second", () => {
    const baselines = new RoundTripBaselines(settings);
    baselines.ratio("/m", 2, 0);
    baselines.ratio("/m", 4, 1000);
    baselines.ratio("/m", 104, 2000);
    assert.equal(baselines.baselineOf("/m"), 3, "two warm-up seconds: (2 + 4) / 2");
    baselines.ratio("/m", 1, 3000);
    assert.equal(baselines.baselineOf("/m"), 3 + (6 - 3) / 100, "an overloaded second counts as twice the average, no more");
  });

  it("counts a warm-up second for at most four times the average so far: a flood in the first seconds is not learnt as usual", () => {
    const baselines = new RoundTripBaselines({ bucketMs: 1000, span: 100, warmUp: 10 });
    baselines.ratio("/m", 10, 0);
    baselines.ratio("/m", 1000, 1000);
    baselines.ratio("/m", 1000, 2000);
    assert.equal(baselines.baselineOf("/m"), (10 + 40) / 2, "the flooded second counts as 40 ms, not 1,000");
    baselines.ratio("/m", 30, 3000);
    assert.equal(baselines.baselineOf("/m"), 25 + (100 - 25) / 3, "and again at four times the new average");
    assert.equal(baselines.ratio("/m", 500, 3500), 10, "so the flood still reads as ten times the usual");
  });

  it("follows round trips down faster when they fall below half of the average", () => {
    const baselines = new RoundTripBaselines({ bucketMs: 1000, span: 1000, warmUp: 1 });
    baselines.ratio("/m", 10, 0);
    baselines.ratio("/m", 1, 1000);
    baselines.ratio("/m", 1, 2000);
    const expected = (10 + (1 - 10) / 1000) * 0.95;
    assert.ok(Math.abs(baselines.baselineOf("/m") - expected) < 1e-9);
  });

  it("treats a 0 ms average as a tenth of a millisecond", () => {
    const baselines = new RoundTripBaselines(settings);
    baselines.ratio("/m", 0, 0);
    assert.equal(baselines.ratio("/m", 1, 1000), 10);
  });
});
