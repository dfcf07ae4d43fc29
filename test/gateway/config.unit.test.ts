import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "@jest/globals";
import { defaultLimits, loadGatewayConfig } from "@recq-mesh/gateway";

describe("gateway configuration", () => {
  it("has explicit defaults", () => {
    const config = loadGatewayConfig([], {});
    assert.equal(config.address, "127.0.0.1:50051");
    assert.equal(config.dataDir, path.resolve("data/gateway"));
    assert.deepEqual(config.limits, defaultLimits);
    assert.equal(config.limits.maxRequestBytes, 4 * 1024 * 1024);
    assert.equal(config.limits.maxRequestArrivalMs, 10_000);
    assert.equal(config.limits.maxStreamsPerConnection, 1_000);
    assert.equal(config.limits.maxConnectionIdleMs, 300_000);
  });

  it("reads the accepted-command limits from the environment: 1 at least", () => {
    const defaults = loadGatewayConfig([], {}).limits;
    assert.equal(defaults.maxAcceptedCommands, 100_000);
    assert.equal(defaults.maxAcceptedBytes, 256 * 1024 * 1024);
    assert.equal(defaults.acceptedConcurrency, 64);
    assert.equal(defaults.acceptedCommandTtlMs, 3_600_000);
    assert.equal(defaults.maxOutcomeWatches, 10_000);
    const { limits } = loadGatewayConfig([], {
      RECQ_MAX_ACCEPTED_COMMANDS: "1",
      RECQ_MAX_ACCEPTED_BYTES: "2048",
      RECQ_ACCEPTED_CONCURRENCY: "2",
      RECQ_ACCEPTED_COMMAND_TTL_MS: "500",
      RECQ_MAX_OUTCOME_WATCHES: "3",
    });
    assert.deepEqual(
      [limits.maxAcceptedCommands, limits.maxAcceptedBytes, limits.acceptedConcurrency, limits.acceptedCommandTtlMs, limits.maxOutcomeWatches],
      [1, 2048, 2, 500, 3],
    );
    for (const name of ["RECQ_MAX_ACCEPTED_COMMANDS", "RECQ_MAX_ACCEPTED_BYTES", "RECQ_ACCEPTED_CONCURRENCY", "RECQ_ACCEPTED_COMMAND_TTL_MS", "RECQ_MAX_OUTCOME_WATCHES"]) {
      assert.throws(() => loadGatewayConfig([], { [name]: "0" }), new RegExp(`${name} must be an integer of at least 1`));
    }
  });

  it("reads the callers' connection limits from the environment", () => {
    const { limits } = loadGatewayConfig([], { RECQ_MAX_REQUEST_ARRIVAL_MS: "250", RECQ_MAX_STREAMS_PER_CONNECTION: "8", RECQ_MAX_CONNECTION_IDLE_MS: "60000" });
    assert.equal(limits.maxRequestArrivalMs, 250);
    assert.equal(limits.maxStreamsPerConnection, 8);
    assert.equal(limits.maxConnectionIdleMs, 60_000);
    assert.throws(() => loadGatewayConfig([], { RECQ_MAX_STREAMS_PER_CONNECTION: "0" }), /RECQ_MAX_STREAMS_PER_CONNECTION must be an integer of at least 1/);
  });

  it("reads the MongoDB store's commit bound from RECQ_MONGODB_COMMIT_TIMEOUT_MS: 1 ms at least", () => {
    assert.equal(loadGatewayConfig([], {}).limits.mongoCommitTimeoutMs, 10_000);
    assert.equal(loadGatewayConfig([], { RECQ_MONGODB_COMMIT_TIMEOUT_MS: "1" }).limits.mongoCommitTimeoutMs, 1);
    assert.throws(() => loadGatewayConfig([], { RECQ_MONGODB_COMMIT_TIMEOUT_MS: "0" }), /RECQ_MONGODB_COMMIT_TIMEOUT_MS must be an integer of at least 1/);
  });

  it("bounds RECQ_MONGODB_COMMIT_TIMEOUT_MS above as the kit does: the server refuses a maxTimeMS (and wtimeout, 1 s more) past 2^31−1", () => {
    assert.equal(loadGatewayConfig([], { RECQ_MONGODB_COMMIT_TIMEOUT_MS: "2147482647" }).limits.mongoCommitTimeoutMs, 2 ** 31 - 1 - 1000);
    assert.throws(() => loadGatewayConfig([], { RECQ_MONGODB_COMMIT_TIMEOUT_MS: "2147482648" }), /RECQ_MONGODB_COMMIT_TIMEOUT_MS must be an integer of at most 2147482647/);
  });

  it("reads the reply channels' in-flight limit from RECQ_MAX_CHANNEL_REQUESTS_IN_FLIGHT: 1 at least", () => {
    assert.equal(loadGatewayConfig([], {}).limits.maxChannelRequestsInFlight, 100);
    assert.equal(loadGatewayConfig([], { RECQ_MAX_CHANNEL_REQUESTS_IN_FLIGHT: "1" }).limits.maxChannelRequestsInFlight, 1);
    assert.throws(() => loadGatewayConfig([], { RECQ_MAX_CHANNEL_REQUESTS_IN_FLIGHT: "0" }), /RECQ_MAX_CHANNEL_REQUESTS_IN_FLIGHT must be an integer of at least 1/);
  });

  it("takes flags over environment variables, and limits from the environment", () => {
    const config = loadGatewayConfig(["--address", "0.0.0.0:7000"], {
      RECQ_ADDRESS: "127.0.0.1:1",
      RECQ_MAX_QUEUED_PER_LINK: "7",
      RECQ_LINK_TOKEN: "t",
      RECQ_ALLOW_PLAINTEXT: "true",
    });
    assert.equal(config.address, "0.0.0.0:7000");
    assert.equal(config.limits.maxQueuedPerLink, 7);
    assert.equal(config.linkToken, "t");
  });

  it("refuses limits that would refuse everything, and unknown flags", () => {
    assert.throws(() => loadGatewayConfig([], { RECQ_HEARTBEAT_MS: "0" }), /RECQ_HEARTBEAT_MS must be an integer of at least 1/);
    assert.throws(() => loadGatewayConfig([], { RECQ_MAX_REQUEST_BYTES: "lots" }), /RECQ_MAX_REQUEST_BYTES/);
    assert.equal(loadGatewayConfig([], { RECQ_MAX_CONFLICT_RETRIES: "0" }).limits.maxConflictRetries, 0);
    assert.throws(() => loadGatewayConfig(["--nope"], {}), /nope/);
  });

  it("takes the admission settings at their bounds and refuses a floor above the ceiling", () => {
    const fixed = loadGatewayConfig([], { RECQ_MAX_CALLS_IN_FLIGHT: "64", RECQ_MIN_CALLS_IN_FLIGHT: "64", RECQ_ADMISSION_TOLERANCE_PERCENT: "100" });
    assert.deepEqual([fixed.limits.maxCallsInFlight, fixed.limits.minCallsInFlight, fixed.limits.admissionTolerancePercent], [64, 64, 100]);
    assert.throws(() => loadGatewayConfig([], { RECQ_MAX_CALLS_IN_FLIGHT: "64", RECQ_MIN_CALLS_IN_FLIGHT: "65" }), /RECQ_MIN_CALLS_IN_FLIGHT \(65\) must not exceed RECQ_MAX_CALLS_IN_FLIGHT \(64\)/);
    assert.throws(() => loadGatewayConfig([], { RECQ_ADMISSION_TOLERANCE_PERCENT: "99" }), /RECQ_ADMISSION_TOLERANCE_PERCENT must be an integer of at least 100/);
    assert.equal(loadGatewayConfig([], { RECQ_MAX_SUBSCRIPTIONS: "1" }).limits.maxSubscriptions, 1);
    assert.equal(loadGatewayConfig([], { RECQ_MAX_CALLS_IN_FLIGHT: "8" }).limits.maxCallsInFlight, 8, "a ceiling under the default floor, alone, is taken");
  });

  it("reads the gateway's id: none by default, a plain name of 1 to 64 characters", () => {
    assert.equal(loadGatewayConfig([], {}).gatewayId, undefined);
    assert.equal(loadGatewayConfig([], { RECQ_GATEWAY_ID: "" }).gatewayId, undefined, "empty is unset");
    assert.equal(loadGatewayConfig([], { RECQ_GATEWAY_ID: "gateway-0.eu_1" }).gatewayId, "gateway-0.eu_1");
    assert.equal(loadGatewayConfig([], { RECQ_GATEWAY_ID: "g".repeat(64) }).gatewayId, "g".repeat(64));
    assert.throws(() => loadGatewayConfig([], { RECQ_GATEWAY_ID: "g".repeat(65) }), /RECQ_GATEWAY_ID must be 1 to 64 characters/);
    assert.throws(() => loadGatewayConfig([], { RECQ_GATEWAY_ID: "a b" }), /RECQ_GATEWAY_ID must be 1 to 64 characters/);
  });

  it("reads the event subscriptions' token and limits: open by default, 1 at least", () => {
    const defaults = loadGatewayConfig([], {});
    assert.equal(defaults.eventsToken, undefined);
    assert.deepEqual([defaults.limits.maxEventSubscriptions, defaults.limits.maxEventFilterTypes, defaults.limits.eventReadBatch], [1_000, 100, 100]);
    const set = loadGatewayConfig([], { RECQ_EVENTS_TOKEN: "e", RECQ_MAX_EVENT_SUBSCRIPTIONS: "1", RECQ_MAX_EVENT_FILTER_TYPES: "1", RECQ_EVENT_READ_BATCH: "1" });
    assert.equal(set.eventsToken, "e");
    assert.deepEqual([set.limits.maxEventSubscriptions, set.limits.maxEventFilterTypes, set.limits.eventReadBatch], [1, 1, 1]);
    assert.equal(loadGatewayConfig([], { RECQ_EVENTS_TOKEN: "" }).eventsToken, undefined, "empty is unset");
    assert.throws(() => loadGatewayConfig([], { RECQ_EVENTS_TOKEN: "same", RECQ_CLIENT_TOKEN: "same" }), /RECQ_EVENTS_TOKEN must differ from RECQ_CLIENT_TOKEN/);
    for (const name of ["RECQ_MAX_EVENT_SUBSCRIPTIONS", "RECQ_MAX_EVENT_FILTER_TYPES", "RECQ_EVENT_READ_BATCH"]) {
      assert.throws(() => loadGatewayConfig([], { [name]: "0" }), new RegExp(`${name} must be an integer of at least 1`));
    }
  });

  it("reads the admin services' token: none by default (they take the callers'), and one that no other token matches", () => {
    assert.equal(loadGatewayConfig([], {}).adminToken, undefined);
    assert.equal(loadGatewayConfig([], { RECQ_ADMIN_TOKEN: "" }).adminToken, undefined, "empty is unset");
    assert.equal(loadGatewayConfig([], { RECQ_ADMIN_TOKEN: "a", RECQ_CLIENT_TOKEN: "c", RECQ_EVENTS_TOKEN: "e" }).adminToken, "a");
    assert.throws(() => loadGatewayConfig([], { RECQ_ADMIN_TOKEN: "same", RECQ_CLIENT_TOKEN: "same" }), /RECQ_ADMIN_TOKEN must differ from RECQ_CLIENT_TOKEN and RECQ_EVENTS_TOKEN/);
    assert.throws(() => loadGatewayConfig([], { RECQ_ADMIN_TOKEN: "same", RECQ_EVENTS_TOKEN: "same" }), /RECQ_ADMIN_TOKEN must differ/);
  });

  it("opens the HTTP port only when given an address, with its origins and heartbeat", () => {
    assert.equal(loadGatewayConfig([], {}).http, undefined);
    assert.deepEqual(loadGatewayConfig(["--http-address", "127.0.0.1:8081"], { RECQ_HTTP_ADDRESS: "127.0.0.1:9" }).http, {
      address: "127.0.0.1:8081",
      allowedOrigins: [],
      heartbeatMs: 15_000,
      timeouts: { protocolTimeoutMs: 10_000, headersTimeoutMs: 10_000, idleTimeoutMs: 65_000, http2IdleTimeoutMs: 300_000 },
    });
    const http = loadGatewayConfig([], { RECQ_ALLOW_PLAINTEXT: "true", RECQ_HTTP_ADDRESS: "0.0.0.0:8080", RECQ_HTTP_ALLOWED_ORIGINS: " https://a.example , http://localhost:5173,", RECQ_HTTP_HEARTBEAT_MS: "1" }).http;
    assert.deepEqual(http, {
      address: "0.0.0.0:8080",
      allowedOrigins: ["https://a.example", "http://localhost:5173"],
      heartbeatMs: 1,
      timeouts: { protocolTimeoutMs: 10_000, headersTimeoutMs: 10_000, idleTimeoutMs: 65_000, http2IdleTimeoutMs: 300_000 },
    });
    assert.throws(() => loadGatewayConfig([], { RECQ_HTTP_ADDRESS: "127.0.0.1:8080", RECQ_HTTP_HEARTBEAT_MS: "0" }), /RECQ_HTTP_HEARTBEAT_MS/);
    // Cleartext on a network address only when allowed, as the gRPC port.
    assert.throws(() => loadGatewayConfig([], { RECQ_HTTP_ADDRESS: "0.0.0.0:8080" }), /the HTTP port would listen on 0\.0\.0\.0:8080 in plaintext/);
    assert.equal(loadGatewayConfig([], { RECQ_HTTP_ADDRESS: "[::1]:8080" }).http?.address, "[::1]:8080");
  });

  it("takes one or more descriptor sets: repeated flags, comma-separated lists, or RECQ_DESCRIPTORS", () => {
    assert.deepEqual(loadGatewayConfig([], {}).descriptorsPaths, [path.resolve("dist/descriptors.binpb")]);
    // Copied into this realm's arrays: node:util's parseArgs makes its own, which a strict comparison tells apart.
    const paths = (argv: string[], env: NodeJS.ProcessEnv) => [...loadGatewayConfig(argv, env).descriptorsPaths];
    assert.deepEqual(paths(["--descriptors", "a.binpb", "--descriptors", "b.binpb,/c.binpb"], { RECQ_DESCRIPTORS: "env.binpb" }), [
      path.resolve("a.binpb"),
      path.resolve("b.binpb"),
      "/c.binpb",
    ]);
    assert.deepEqual(paths([], { RECQ_DESCRIPTORS: "/d, e.binpb" }), ["/d", path.resolve("e.binpb")]);
    assert.throws(() => loadGatewayConfig(["--descriptors", " , "], {}), /names no file/);
  });

  it("reads the HTTP port's bounds on slow clients: 1 ms at least", () => {
    const env = { RECQ_HTTP_ADDRESS: "127.0.0.1:8080" };
    const at = loadGatewayConfig([], {
      ...env,
      RECQ_HTTP_PROTOCOL_TIMEOUT_MS: "1",
      RECQ_HTTP_HEADERS_TIMEOUT_MS: "2",
      RECQ_HTTP_IDLE_TIMEOUT_MS: "2147483647",
      RECQ_HTTP2_IDLE_TIMEOUT_MS: "1",
    }).http?.timeouts;
    assert.deepEqual(at, { protocolTimeoutMs: 1, headersTimeoutMs: 2, idleTimeoutMs: 2_147_483_647, http2IdleTimeoutMs: 1 });
    assert.equal(loadGatewayConfig([], { ...env, RECQ_HTTP2_IDLE_TIMEOUT_MS: "2147483647" }).http?.timeouts?.http2IdleTimeoutMs, 2_147_483_647);
    for (const name of ["RECQ_HTTP_PROTOCOL_TIMEOUT_MS", "RECQ_HTTP_HEADERS_TIMEOUT_MS", "RECQ_HTTP_IDLE_TIMEOUT_MS", "RECQ_HTTP2_IDLE_TIMEOUT_MS"]) {
      assert.throws(() => loadGatewayConfig([], { ...env, [name]: "0" }), new RegExp(`${name} must be an integer from 1 to 2147483647, not "0"`));
      assert.throws(() => loadGatewayConfig([], { ...env, [name]: "2147483648" }), new RegExp(`${name} must be an integer from 1`));
    }
  });

  it("reads how a JWKS is kept current: 1 at least, the maximum staleness 0 (off) at least", () => {
    assert.deepEqual(loadGatewayConfig([], {}).jwks, { timeoutMs: 5_000, cooldownMs: 30_000, maxAgeMs: 600_000, maxBytes: 1_048_576, maxStaleMs: 0 });
    const at = loadGatewayConfig([], {
      RECQ_JWKS_TIMEOUT_MS: "1",
      RECQ_JWKS_COOLDOWN_MS: "1",
      RECQ_JWKS_MAX_AGE_MS: "2147483647",
      RECQ_JWKS_MAX_BYTES: "1",
      RECQ_JWKS_MAX_STALE_MS: "2147483647",
    }).jwks;
    assert.deepEqual(at, { timeoutMs: 1, cooldownMs: 1, maxAgeMs: 2_147_483_647, maxBytes: 1, maxStaleMs: 2_147_483_647 });
    for (const name of ["RECQ_JWKS_TIMEOUT_MS", "RECQ_JWKS_COOLDOWN_MS", "RECQ_JWKS_MAX_AGE_MS", "RECQ_JWKS_MAX_BYTES"]) {
      assert.throws(() => loadGatewayConfig([], { [name]: "0" }), new RegExp(`${name} must be an integer from 1 to 2147483647, not "0"`));
      assert.throws(() => loadGatewayConfig([], { [name]: "2147483648" }), new RegExp(`${name} must be an integer from 1`));
      assert.throws(() => loadGatewayConfig([], { [name]: "1.5" }), new RegExp(`${name} must be an integer`));
    }
    assert.equal(loadGatewayConfig([], { RECQ_JWKS_MAX_STALE_MS: "0" }).jwks.maxStaleMs, 0);
    assert.throws(() => loadGatewayConfig([], { RECQ_JWKS_MAX_STALE_MS: "-1" }), /RECQ_JWKS_MAX_STALE_MS must be an integer from 0 to 2147483647, not "-1"/);
    assert.throws(() => loadGatewayConfig([], { RECQ_JWKS_MAX_STALE_MS: "2147483648" }), /RECQ_JWKS_MAX_STALE_MS must be an integer from 0/);
  });
});
