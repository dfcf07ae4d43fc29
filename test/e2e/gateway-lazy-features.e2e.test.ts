import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, it } from "@jest/globals";
import { W3C_PROPAGATOR_MODULE } from "@recq-mesh/protocol/internal/telemetry/start-telemetry";
import { spawnGateway, type GatewayProcess } from "../support/gateway-process";
import { listLoadedPackagesOptions, loadedPackagesIn } from "../support/loaded-packages";
import { tempDir } from "../support/mesh-harness";

/** The packages each feature brings, which a gateway with the feature off must not load. */
const FEATURE_PACKAGES = {
  jwt: ["jose"],
  http: ["@connectrpc/connect", "@connectrpc/connect-node"],
  mongodb: ["mongodb", "@opentelemetry/instrumentation-mongodb"],
  tracing: ["@opentelemetry/sdk-trace-base", "@opentelemetry/sdk-trace-node", "@opentelemetry/exporter-trace-otlp-grpc", "@opentelemetry/resources"],
  /** What the index of @opentelemetry/core loads besides the W3C propagator, which every process needs. */
  propagatorOnly: ["@opentelemetry/semantic-conventions"],
};

// Whether each feature then works is the e2e suite's: the security file (test/security/*.contract.test.ts, through
// the gateway as a library, and admin-token.e2e.test.ts), the HTTP port (http-port*.e2e.test.ts, admin-token), OTLP
// export from the process (gateway-process.e2e.test.ts), MongoDB (the *-mongodb tests, with MONGODB_URI).
describe("the gateway process loads a feature's packages only when the feature is on", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    data = await tempDir("lazy-features");
  });

  afterEach(async () => {
    gateway?.child.kill("SIGTERM");
    await gateway?.exited;
    gateway = undefined;
  });

  afterAll(async () => {
    await data.remove();
  });

  /** The npm packages a gateway started with `env` has loaded by its ready line, in the order it loaded them. */
  async function packagesAtReady(name: string, env: Record<string, string>): Promise<string[]> {
    gateway = await spawnGateway(path.join(data.dir, name), 0, { OTEL_EXPORTER_OTLP_ENDPOINT: "", ...env, NODE_OPTIONS: listLoadedPackagesOptions(data.dir) });
    return loadedPackagesIn(gateway.log());
  }

  it("with every feature off: grpc-js and the descriptors' protobuf runtime, none of the features' packages", async () => {
    const loaded = await packagesAtReady("off", {});
    // The list sees what the gateway loads: a list that saw nothing would pass the checks below.
    assert.ok(loaded.includes("@grpc/grpc-js") && loaded.includes("@bufbuild/protobuf"), loaded.join(", "));
    const features = Object.values(FEATURE_PACKAGES).flat();
    assert.deepEqual(loaded.filter((name) => features.includes(name)), []);
  });

  it("a security file with JWT callers loads jose, and nothing of the HTTP port", async () => {
    writeFileSync(path.join(data.dir, "jwt.secret"), "a test secret of at least thirty-two bytes for HS256");
    const policy = { callers: { jwt: { secretFile: "jwt.secret", issuer: "test", audience: "recq-gateway" }, permissions: { "*": ["todo"] } } };
    writeFileSync(path.join(data.dir, "security.json"), JSON.stringify(policy));
    const loaded = await packagesAtReady("jwt", { RECQ_SECURITY_FILE: path.join(data.dir, "security.json") });
    assert.ok(loaded.includes("jose"), loaded.join(", "));
    assert.deepEqual(loaded.filter((name) => FEATURE_PACKAGES.http.includes(name)), []);
  });

  it("an HTTP address loads Connect, and not jose", async () => {
    const loaded = await packagesAtReady("http", { RECQ_HTTP_ADDRESS: "127.0.0.1:0" });
    assert.ok(loaded.includes("@connectrpc/connect-node"), loaded.join(", "));
    assert.ok(!loaded.includes("jose"), loaded.join(", "));
  });

  it("an OTLP endpoint loads the tracing SDK, before grpc-js (so its instrumentation may hook it)", async () => {
    // Nothing listens there: at start the exporter sends nothing.
    const loaded = await packagesAtReady("tracing", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" });
    const sdk = loaded.indexOf("@opentelemetry/sdk-trace-node");
    assert.ok(sdk >= 0 && sdk < loaded.indexOf("@grpc/grpc-js"), loaded.join(", "));
  });
});

describe("the W3C propagator's module of @opentelemetry/core", () => {
  it("exports the package's own W3CTraceContextPropagator (else telemetry falls back to the package's index)", async () => {
    const core = await import("@opentelemetry/core");
    const own = (await import(W3C_PROPAGATOR_MODULE)) as typeof core;
    assert.equal(own.W3CTraceContextPropagator, core.W3CTraceContextPropagator);
  });
});
