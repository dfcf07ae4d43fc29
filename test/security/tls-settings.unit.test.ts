import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { describeTransport, isLoopback, transportSecurityFromEnv } from "@recq-mesh/gateway/internal/security/tls-settings";
import { loadGatewayConfig } from "@recq-mesh/gateway";

describe("the gateway's TLS settings", () => {
  it("serves plaintext on a loopback address when no certificate is set, and says so", () => {
    const security = transportSecurityFromEnv({}, "127.0.0.1:50051");
    assert.deepEqual(security, { mode: "plaintext" });
    assert.equal(describeTransport(security), "plaintext");
    assert.equal(loadGatewayConfig([], {}).transport.mode, "plaintext");
  });

  it("refuses plaintext on a network address unless RECQ_ALLOW_PLAINTEXT=true", () => {
    assert.throws(() => transportSecurityFromEnv({}, "0.0.0.0:50051"), /in plaintext: set RECQ_TLS_CERT_FILE and RECQ_TLS_KEY_FILE, or RECQ_ALLOW_PLAINTEXT=true/);
    assert.throws(() => loadGatewayConfig(["--address", "10.0.0.5:50051"], {}), /in plaintext/);
    assert.deepEqual(transportSecurityFromEnv({ RECQ_ALLOW_PLAINTEXT: "true" }, "0.0.0.0:50051"), { mode: "plaintext" });
  });

  it("knows loopback addresses", () => {
    for (const address of ["127.0.0.1:1", "127.1.2.3:1", "localhost:1", "[::1]:1"]) assert.equal(isLoopback(address), true, address);
    for (const address of ["0.0.0.0:1", "[::]:1", "gateway:1", "10.0.0.1:1", "127.0.0.1.example.com:1"]) assert.equal(isLoopback(address), false, address);
  });

  it("reads the files, the client CA, its policy and the refresh interval", () => {
    const security = transportSecurityFromEnv(
      { RECQ_TLS_CERT_FILE: "c.pem", RECQ_TLS_KEY_FILE: "k.pem", RECQ_TLS_CLIENT_CA_FILE: "ca.pem", RECQ_TLS_CLIENT_AUTH: "optional", RECQ_TLS_REFRESH_MS: "250" },
      "0.0.0.0:50051",
    );
    assert.deepEqual(security, { mode: "tls", tls: { certificateFile: "c.pem", keyFile: "k.pem", clientCaFile: "ca.pem", clientAuth: "optional", refreshIntervalMs: 250 } });
    assert.equal(describeTransport(security), "mtls (client certificates optional)");
    const plain = transportSecurityFromEnv({ RECQ_TLS_CERT_FILE: "c.pem", RECQ_TLS_KEY_FILE: "k.pem" }, "0.0.0.0:50051");
    assert.deepEqual(plain, { mode: "tls", tls: { certificateFile: "c.pem", keyFile: "k.pem", clientCaFile: undefined, clientAuth: "required", refreshIntervalMs: 60_000 } });
    assert.equal(describeTransport(plain), "tls");
  });

  it("refuses half a pair, a client CA without TLS, an unknown policy and a refresh interval of 0", () => {
    assert.throws(() => transportSecurityFromEnv({ RECQ_TLS_CERT_FILE: "c.pem" }, "127.0.0.1:1"), /must be set together/);
    assert.throws(() => transportSecurityFromEnv({ RECQ_TLS_CLIENT_CA_FILE: "ca.pem" }, "127.0.0.1:1"), /RECQ_TLS_CLIENT_CA_FILE needs/);
    const pair = { RECQ_TLS_CERT_FILE: "c.pem", RECQ_TLS_KEY_FILE: "k.pem" };
    assert.throws(() => transportSecurityFromEnv({ ...pair, RECQ_TLS_CLIENT_AUTH: "maybe" }, "127.0.0.1:1"), /RECQ_TLS_CLIENT_AUTH must be required or optional/);
    assert.throws(() => transportSecurityFromEnv({ ...pair, RECQ_TLS_REFRESH_MS: "0" }, "127.0.0.1:1"), /RECQ_TLS_REFRESH_MS must be an integer of at least 1/);
    assert.equal((transportSecurityFromEnv({ ...pair, RECQ_TLS_REFRESH_MS: "1" }, "127.0.0.1:1") as { tls: { refreshIntervalMs: number } }).tls.refreshIntervalMs, 1);
  });
});
