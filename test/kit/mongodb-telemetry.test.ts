// Telemetry first, with the MongoDB instrumentation, before anything in this process loads the driver: as the
// services' main.ts do.
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { startTelemetry } from "@recq-mesh/protocol/internal/telemetry/start-telemetry";
const exporter = new InMemorySpanExporter();
startTelemetry("recq-test", [new SimpleSpanProcessor(exporter)], { instrumentMongoDB: true });

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, describe, it } from "node:test";
import { ROOT_CONTEXT, context, trace } from "@opentelemetry/api";
import { SpanName, meshTracer } from "@recq-mesh/protocol";
import { mongoTestsEnabled, MongoTestServer } from "../support/mongo";

const INSTRUMENTATION = "@opentelemetry/instrumentation-mongodb";

describe("MongoDB driver tracing", () => {
  it("patches the driver's connection when telemetry starts with instrumentMongoDB, before the driver loads", () => {
    const load = createRequire(__filename);
    load("mongodb");
    const { Connection } = load("mongodb/lib/cmap/connection.js") as { Connection: { prototype: { command: { __wrapped?: boolean } } } };
    assert.equal(Connection.prototype.command.__wrapped, true);
  });
});

if (mongoTestsEnabled("MongoDB driver spans")) {
  const server = new MongoTestServer();
  after(() => server.close());

  describe("MongoDB driver spans", () => {
    it("are children of the handler span that issued the read", { timeout: 20_000 }, async () => {
      const { MongoViewStore } = await import("@recq-mesh/kit/internal/views/mongo-view-store");
      const { TracedViewStore } = await import("@recq-mesh/kit/internal/views/traced-view-store");
      const database = await server.freshDatabase("spans");
      const store = await MongoViewStore.open({ client: await server.client(), database: database.name });
      try {
        await store.commit("p", 1, [{ kind: "put", collection: "lists", document: { _id: "l1", name: "Groceries" } }]);
        exporter.reset();
        const handler = meshTracer().startSpan(SpanName.HANDLER_HANDLE, {}, ROOT_CONTEXT);
        const found = await context.with(trace.setSpan(ROOT_CONTEXT, handler), () => new TracedViewStore(store).findById("lists", "l1"));
        handler.end();
        assert.deepEqual(found, { _id: "l1", name: "Groceries" });
        const spans = exporter.getFinishedSpans();
        const driver = spans.filter((span) => span.instrumentationScope.name === INSTRUMENTATION);
        assert.ok(driver.length > 0, `driver spans in ${spans.map((s) => s.name).join(", ")}`);
        // Under the handler span, or under the view read span that is the handler's child.
        const reads = spans.filter((span) => span.name === SpanName.VIEW_READ && span.parentSpanContext?.spanId === handler.spanContext().spanId);
        const parents = new Set([handler.spanContext().spanId, ...reads.map((span) => span.spanContext().spanId)]);
        for (const span of driver) {
          assert.equal(span.spanContext().traceId, handler.spanContext().traceId);
          assert.ok(parents.has(span.parentSpanContext?.spanId ?? ""), `${span.name} hangs under the handler span`);
        }
        assert.ok(driver.some((span) => span.name.includes("find")), driver.map((s) => s.name).join(", "));
      } finally {
        await store.close();
        await database.drop();
      }
    });
  });
}
