import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { AdaptiveLimit } from "@recq-mesh/gateway/internal/admission/adaptive-limit";
import { RoundTripBaselines } from "@recq-mesh/gateway/internal/admission/round-trip-baselines";

const settings = { maxLimit: 1000, minLimit: 10, tolerance: 2, windowMs: 100, minSamples: 10 };

/** Feeds one window of `count` samples of `ratio`, starting at `start` ms; the last sample closes it. */
function window(limit: AdaptiveLimit, start: number, ratio: number, count = 20): number {
  for (let i = 0; i < count; i++) limit.onSample(ratio, ratio * 4, start + (i * 100) / (count - 1));
  return start + 100;
}

describe("AdaptiveLimit", () => {
  it("starts at its ceiling and stays there while round trips are usual", () => {
    const limit = new AdaptiveLimit(settings);
    let t = 0;
    for (let w = 0; w < 5; w++) t = window(limit, t, 1.1);
    assert.equal(limit.limit, 1000);
  });

  it("cuts in proportion once the median round trip passes the tolerance, at most by half a window", () => {
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
    for (let i = 0; i < 9; i++) limit.onSample(50, 200, i * 100);
    assert.equal(limit.limit, 1000, "nine round trips over 800 ms: the window is still open");
    limit.onSample(50, 200, 900);
    assert.equal(limit.limit, 500);
  });

  it("reports the median round trip of the last window as the typical one", () => {
    const limit = new AdaptiveLimit(settings);
    assert.equal(limit.typicalRoundTripMs, 0);
    window(limit, 0, 1.5);
    assert.equal(limit.typicalRoundTripMs, 6);
  });

  it("refuses settings that would refuse everything", () => {
    assert.throws(() => new AdaptiveLimit({ ...settings, minLimit: 0 }));
    assert.throws(() => new AdaptiveLimit({ ...settings, minLimit: 2000 }));
    assert.throws(() => new AdaptiveLimit({ ...settings, tolerance: 0.5 }));
  });
});

describe("RoundTripBaselines", () => {
  it("measures each method against its own fastest round trip", () => {
    const baselines = new RoundTripBaselines(1000, 30);
    assert.equal(baselines.ratio("/q", 1, 0), 1);
    assert.equal(baselines.ratio("/c", 10, 0), 1, "a slow command is not compared with a fast query");
    assert.equal(baselines.ratio("/q", 3, 10), 3);
    assert.equal(baselines.ratio("/c", 20, 10), 2);
  });

  it("forgets a minimum once it slides out of the window", () => {
    const baselines = new RoundTripBaselines(1000, 3);
    baselines.ratio("/m", 1, 0);
    assert.equal(baselines.ratio("/m", 4, 2500), 4, "still within 3 buckets");
    assert.equal(baselines.ratio("/m", 4, 3100), 1, "the 1 ms bucket is gone; 4 ms (at 2.5 s) is the minimum now");
    assert.equal(baselines.ratio("/m", 8, 10_000), 1, "after a long silence the window starts afresh");
  });

  it("treats a 0 ms round trip as a tenth of a millisecond", () => {
    const baselines = new RoundTripBaselines(1000, 30);
    assert.equal(baselines.ratio("/m", 0, 0), 0);
    assert.equal(baselines.ratio("/m", 1, 1), 10);
  });
});
