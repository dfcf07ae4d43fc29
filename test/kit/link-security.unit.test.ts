import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { linkSecurityFromEnv } from "@recq-mesh/kit";
import { tempDir } from "../support/mesh-harness";

describe("a service's link security from its environment", () => {
  let temp: { dir: string; remove(): Promise<void> };
  beforeAll(async () => {
    temp = await tempDir("link-security");
  });
  afterAll(() => temp.remove());

  it("is plaintext with the shared token by default", () => {
    assert.deepEqual(linkSecurityFromEnv({}), { tls: undefined, credentials: undefined });
    assert.deepEqual(linkSecurityFromEnv({ RECQ_LINK_TOKEN: "shared" }), { tls: undefined, credentials: "shared" });
  });

  it("reads the token file at each connect, so a rotated token is used by the next one", () => {
    const file = path.join(temp.dir, "todo.token");
    writeFileSync(file, "first\n");
    const { credentials } = linkSecurityFromEnv({ RECQ_LINK_TOKEN_FILE: file });
    assert.equal(typeof credentials, "function");
    assert.equal((credentials as () => string)(), "first");
    writeFileSync(file, "second");
    assert.equal((credentials as () => string)(), "second");
  });

  it("refuses a missing token file at start, and two tokens", () => {
    assert.throws(() => linkSecurityFromEnv({ RECQ_LINK_TOKEN_FILE: path.join(temp.dir, "missing") }), /ENOENT/);
    assert.throws(() => linkSecurityFromEnv({ RECQ_LINK_TOKEN_FILE: "x", RECQ_LINK_TOKEN: "y" }), /not both/);
  });

  it("turns TLS on with a CA file, a client certificate or RECQ_TLS=true", () => {
    assert.deepEqual(linkSecurityFromEnv({ RECQ_TLS_CA_FILE: "ca.pem", RECQ_TLS_CERT_FILE: "c.pem", RECQ_TLS_KEY_FILE: "k.pem", RECQ_TLS_REFRESH_MS: "500", RECQ_TLS_SERVER_NAME: "gateway" }).tls, {
      caFile: "ca.pem",
      certFile: "c.pem",
      keyFile: "k.pem",
      refreshIntervalMs: 500,
      serverName: "gateway",
    });
    assert.equal(linkSecurityFromEnv({ RECQ_TLS: "true" }).tls?.caFile, undefined);
    assert.notEqual(linkSecurityFromEnv({ RECQ_TLS: "true" }).tls, undefined);
    assert.throws(() => linkSecurityFromEnv({ RECQ_TLS_CA_FILE: "ca.pem", RECQ_TLS_REFRESH_MS: "0" }), /RECQ_TLS_REFRESH_MS/);
  });
});
