import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { describe, it } from "@jest/globals";
import { MONGODB_URI, mongoTestsEnabled } from "../support/mongo";
import { compiledScript } from "../support/repository";

const run = promisify(execFile);
/** The tracing happens in a Node process of its own: see the fixture for why. */
const FIXTURE = compiledScript("kit/fixtures/mongodb-tracing.js");

interface TracedRead {
  found: unknown;
  handler: { traceId: string; spanId: string };
  reads: { id: string; parent?: string }[];
  driver: { name: string; traceId: string; parent?: string }[];
  all: string[];
}

describe("MongoDB driver tracing", () => {
  it("patches the driver's connection when telemetry starts with instrumentMongoDB, before the driver loads", async () => {
    const { stdout } = await run(process.execPath, [FIXTURE, "patched"], { timeout: 30_000 });
    assert.equal(stdout, "patched");
  });
});

if (mongoTestsEnabled("MongoDB driver spans")) {
  describe("MongoDB driver spans", () => {
    it("are children of the handler span that issued the read", async () => {
      const database = `recq_test_spans_${randomBytes(5).toString("hex")}`;
      const { stdout } = await run(process.execPath, [FIXTURE, "spans", MONGODB_URI!, database], { timeout: 20_000 });
      const traced = JSON.parse(stdout) as TracedRead;
      assert.deepEqual(traced.found, { _id: "l1", name: "Groceries" });
      assert.ok(traced.driver.length > 0, `driver spans in ${traced.all.join(", ")}`);
      // Under the handler span, or under the view read span that is the handler's child.
      const reads = traced.reads.filter((read) => read.parent === traced.handler.spanId);
      const parents = new Set([traced.handler.spanId, ...reads.map((read) => read.id)]);
      for (const span of traced.driver) {
        assert.equal(span.traceId, traced.handler.traceId);
        assert.ok(parents.has(span.parent ?? ""), `${span.name} hangs under the handler span`);
      }
      assert.ok(traced.driver.some((span) => span.name.includes("find")), traced.driver.map((span) => span.name).join(", "));
    }, 30_000);
  });
}
