import assert from "node:assert/strict";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import * as grpc from "@grpc/grpc-js";
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from "jose";
import { MeshService } from "@recq-mesh/kit";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { CallerAuthorization } from "@recq-mesh/gateway/internal/security/caller-authorization";
import { JwtVerifier } from "@recq-mesh/gateway/internal/security/jwt-verifier";
import { DEFAULT_JWKS_SETTINGS } from "@recq-mesh/gateway/internal/security/jwks-settings";
import { parseSecurityPolicy, type JwtPolicy } from "@recq-mesh/gateway/internal/security/security-policy";
import { TodoListQueryServiceService, TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { call, failure, startGateway, tempDir, todoClients } from "../support/mesh-harness";
import { capturingLogger, type LogLine } from "../support/dead-event-audit";

const ISSUER = "https://issuer.test";
const AUDIENCE = "recq-gateway";

interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
}

const jwks = (...keys: SigningKey[]) => ({ keys: keys.map((key) => key.jwk) });

/** A token of `key` (a distinct `jti` each time, so that no verification is remembered from another token). */
let serial = 0;
function token(key: SigningKey, kid = key.kid): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: "todo:read", jti: String(++serial) })
    .setProtectedHeader({ alg: "ES256", kid })
    .setSubject("alice")
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now - 5)
    .setExpirationTime(now + 300)
    .sign(key.privateKey);
}

type ProviderMode = "serve" | "fail" | "hang" | "stall-body" | "redirect" | "chunked";

/**
 * An identity provider's `jwks_uri` on 127.0.0.1: serves `served`, counts fetches, can answer 500, hang before its
 * headers, answer 200 and stall its body, redirect (to itself), or send the set in chunks with no content-length.
 */
async function startJwksServer(initial: unknown) {
  const state = { served: initial, mode: "serve" as ProviderMode, fetches: 0 };
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((request, response) => {
    state.fetches += 1;
    if (state.mode === "hang") return void hanging.push(response);
    if (state.mode === "fail") return void response.writeHead(500).end("unavailable");
    if (state.mode === "redirect") return void response.writeHead(302, { location: request.url }).end();
    if (state.mode === "chunked") {
      const body = JSON.stringify(state.served);
      response.writeHead(200, { "content-type": "application/json" }).write(body.slice(0, 10));
      return void response.end(body.slice(10));
    }
    if (state.mode === "stall-body") {
      response.writeHead(200, { "content-type": "application/json" }).write('{"keys":[');
      return void hanging.push(response);
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(state.served));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  const close = () => {
    for (const response of hanging.splice(0)) response.destroy();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { state, url, close };
}

function jwtPolicy(jwt: Record<string, unknown>, dir: string): JwtPolicy {
  return parseSecurityPolicy({ callers: { jwt: { ...jwt, issuer: ISSUER, audience: AUDIENCE } } }, dir, "test policy").callers!.jwt!;
}

/** Waits for what a background load does (polling, bounded: a hang fails the test with `what`). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 5_000) throw new Error(`not within 5 s: ${what}`);
    await sleep(20);
  }
}

/** `promise`, or a failure naming `what` when it has not settled within `ms`: a call that hangs fails the test. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms: ${what}`)), ms)));
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a rejected promise threw. */
async function thrownBy(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (thrown) {
    return thrown;
  }
  throw new Error("resolved, but it should have been refused");
}

/** The provider's keys could not be had: UNAVAILABLE, reason KEYS_UNAVAILABLE (not the caller's fault). */
function assertKeysUnavailable(thrown: unknown): void {
  assert.ok(thrown instanceof MeshError, `a MeshError, not ${String(thrown)}`);
  assert.equal(thrown.code, grpc.status.UNAVAILABLE);
  assert.equal(thrown.reason, Reason.KEYS_UNAVAILABLE);
}

/** jose's refusal of a token whose kid the keys lack. */
const NO_MATCHING_KEY = /no applicable key found|JWKSNoMatchingKey/;

const refusedKey = (lines: LogLine[]) => lines.filter((line) => line.level === "error" && line.message.startsWith("JWKS refresh failed"));

describe("JWKS rotation: a JWKS URL", () => {
  let first: SigningKey;
  let second: SigningKey;

  beforeAll(async () => {
    [first, second] = await Promise.all([signingKey("k1"), signingKey("k2")]);
  });

  it("through the gateway: refuses with UNAVAILABLE while no keys could be fetched; takes a key the provider adds when a token names it, and refuses the removed key's tokens, one verified before too", async () => {
    const provider = await startJwksServer(jwks(first));
    provider.state.mode = "fail";
    const temp = await tempDir("jwks-url");
    const stops: (() => unknown)[] = [() => temp.remove(), () => provider.close()];
    try {
      const policy = parseSecurityPolicy(
        { callers: { jwt: { jwksUrl: provider.url, issuer: ISSUER, audience: AUDIENCE }, permissions: { "todo.v1.TodoListQueryService/*": ["todo:read"] } } },
        temp.dir,
        "test policy",
      );
      const settings = { ...DEFAULT_JWKS_SETTINGS, timeoutMs: 2_000, cooldownMs: 300, maxAgeMs: 600_000 };
      const running = await startGateway(temp.dir, { callers: CallerAuthorization.fromPolicy(policy.callers!, capturingLogger([]), settings) });
      stops.unshift(() => running.gateway.stop());
      const queries = new MeshService({ address: running.address, component: "queries" });
      queries.addQueries({
        service: TodoListQueryServiceService,
        handlers: {
          getTodoList: async (request) => TodoListView.fromPartial({ listId: request.listId }),
          listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
          watchTodoList: async () => undefined,
        },
      });
      await queries.start();
      stops.unshift(() => queries.close());
      const clients = todoClients(running.address);
      stops.unshift(() => clients.close());
      const get = async (bearer: string) => call(clients.queries, clients.queries.getTodoList, { listId: "x" }, { authorization: `Bearer ${bearer}` });

      const before = await token(first);
      const down = await failure(get(before));
      assert.equal(down.code, grpc.status.UNAVAILABLE, "the provider down and no keys yet: not the caller's fault");
      assert.deepEqual(down.metadata.get("recq-reason"), [Reason.KEYS_UNAVAILABLE]);
      assert.equal(provider.state.fetches, 1, "fetched when the first token needed it");

      provider.state.mode = "serve";
      await sleep(settings.cooldownMs + 100);
      await get(before);
      assert.equal(provider.state.fetches, 2, "fetched again once the cooldown had passed");

      // The provider rotates: k2 in, k1 out.
      provider.state.served = jwks(second);
      await sleep(settings.cooldownMs + 100);
      await get(await token(second));
      assert.equal(provider.state.fetches, 3, "a token naming a key the set lacks fetched it again");
      const stale = await failure(get(before));
      assert.equal(stale.code, grpc.status.UNAUTHENTICATED, "a token of the removed key is refused, though verified before the rotation");
      assert.deepEqual(stale.metadata.get("recq-reason"), [Reason.UNAUTHENTICATED]);
      assert.equal((await failure(get(await token(first)))).code, grpc.status.UNAUTHENTICATED);
    } finally {
      for (const stop of stops) await stop();
    }
  });

  it("fetches at most once per cooldown, however many tokens name keys the set lacks", async () => {
    const provider = await startJwksServer(jwks(first));
    try {
      const verifier = JwtVerifier.open(jwtPolicy({ jwksUrl: provider.url }, "/"), capturingLogger([]), { ...DEFAULT_JWKS_SETTINGS, timeoutMs: 2_000, cooldownMs: 60_000, maxAgeMs: 600_000 });
      const unknown = await Promise.all(Array.from({ length: 50 }, (_, i) => token(first, `unknown-${i}`)));
      const results = await Promise.allSettled(unknown.map((value) => verifier.verify(value)));
      assert.ok(results.every((result) => result.status === "rejected"));
      assert.equal(provider.state.fetches, 1, "fifty unknown kids, one fetch");
      await verifier.verify(await token(first));
      for (const value of unknown.slice(0, 10)) await assert.rejects(verifier.verify(value), NO_MATCHING_KEY);
      assert.equal(provider.state.fetches, 1, "still one: within the cooldown");
    } finally {
      await provider.close();
    }
  });

  it("keeps the last good keys when a fetch fails (an error status, a timeout) and logs it; fetches a set past its age again in the background", async () => {
    const provider = await startJwksServer(jwks(first));
    const lines: LogLine[] = [];
    const settings = { ...DEFAULT_JWKS_SETTINGS, timeoutMs: 300, cooldownMs: 100, maxAgeMs: 400 };
    try {
      const verifier = JwtVerifier.open(jwtPolicy({ jwksUrl: provider.url }, "/"), capturingLogger(lines), settings);
      const remembered = await token(first);
      await verifier.verify(remembered);
      provider.state.mode = "fail";
      await sleep(settings.maxAgeMs + 100);
      await verifier.verify(remembered);
      await until(() => refusedKey(lines).length === 1, "the failed fetch of the set past its age is logged");
      assert.equal(provider.state.fetches, 2, "the set past its age was fetched again");
      await verifier.verify(await token(first));
      assert.match(String(refusedKey(lines)[0]!.fields?.error), /expected 200 OK from .* got 500/);

      provider.state.mode = "hang";
      await sleep(settings.maxAgeMs + 100);
      await verifier.verify(await token(first));
      await until(() => refusedKey(lines).length === 2, "the fetch that had no answer is logged");
      assert.match(String(refusedKey(lines)[1]!.fields?.error), /TimeoutError/);

      // The provider back, with a new key: a token naming it is served once the cooldown allows a fetch.
      provider.state.mode = "serve";
      provider.state.served = jwks(first, second);
      await sleep(settings.cooldownMs + 50);
      await verifier.verify(await token(second));
    } finally {
      await provider.close();
    }
  });

  it("a provider that answers 200 and stalls its body holds no call: remembered and known-key tokens serve, an unknown kid waits at most RECQ_JWKS_TIMEOUT_MS, the fetch fails at it", async () => {
    const provider = await startJwksServer(jwks(first));
    const lines: LogLine[] = [];
    const settings = { ...DEFAULT_JWKS_SETTINGS, timeoutMs: 300, cooldownMs: 100, maxAgeMs: 400 };
    try {
      const verifier = JwtVerifier.open(jwtPolicy({ jwksUrl: provider.url }, "/"), capturingLogger(lines), settings);
      const remembered = await token(first);
      await verifier.verify(remembered);
      provider.state.mode = "stall-body";
      await sleep(settings.maxAgeMs + 100);
      // The set is past its age and its refresh stalls: the current keys serve meanwhile.
      await within(verifier.verify(remembered), 3_000, "a remembered token while the refresh stalls");
      await within(verifier.verify(await token(first)), 3_000, "a new token of a known key while the refresh stalls");
      // A kid the set lacks waits on the stalled load, bounded, and is refused as unknown.
      await within(assert.rejects(verifier.verify(await token(second)), NO_MATCHING_KEY), 3_000, "an unknown kid while the refresh stalls");
      await until(() => refusedKey(lines).length >= 1, "the stalled fetch fails at its timeout");
      assert.match(String(refusedKey(lines)[0]!.fields?.error), /TimeoutError/);

      provider.state.mode = "serve";
      provider.state.served = jwks(first, second);
      await sleep(settings.cooldownMs + 50);
      await within(verifier.verify(await token(second)), 3_000, "a new key once the provider is back");
    } finally {
      await provider.close();
    }
  });

  it("takes a JWKS of RECQ_JWKS_MAX_BYTES; refuses one a byte larger (announced or chunked) and a redirect: UNAVAILABLE while there are no keys", async () => {
    const provider = await startJwksServer(jwks(first));
    const policy = jwtPolicy({ jwksUrl: provider.url }, "/");
    const bytes = Buffer.byteLength(JSON.stringify(jwks(first)));
    try {
      for (const mode of ["serve", "chunked"] as const) {
        provider.state.mode = mode;
        const atLimit = JwtVerifier.open(policy, capturingLogger([]), { ...DEFAULT_JWKS_SETTINGS, maxBytes: bytes });
        await atLimit.verify(await token(first));

        const lines: LogLine[] = [];
        const over = JwtVerifier.open(policy, capturingLogger(lines), { ...DEFAULT_JWKS_SETTINGS, maxBytes: bytes - 1 });
        assertKeysUnavailable(await thrownBy(over.verify(await token(first))));
        assert.match(String(refusedKey(lines)[0]!.fields?.error), new RegExp(`larger than RECQ_JWKS_MAX_BYTES \\(${bytes - 1} bytes\\)`), mode);
      }

      provider.state.mode = "redirect";
      const lines: LogLine[] = [];
      const redirected = JwtVerifier.open(policy, capturingLogger(lines), DEFAULT_JWKS_SETTINGS);
      assertKeysUnavailable(await thrownBy(redirected.verify(await token(first))));
      assert.match(String(refusedKey(lines)[0]!.fields?.error), /redirect/);
    } finally {
      await provider.close();
    }
  });

  it("with RECQ_JWKS_MAX_STALE_MS, refuses tokens (UNAVAILABLE), remembered ones too, once no fetch has succeeded for that long; serves again when one does", async () => {
    const provider = await startJwksServer(jwks(first));
    const settings = { ...DEFAULT_JWKS_SETTINGS, timeoutMs: 300, cooldownMs: 100, maxAgeMs: 200, maxStaleMs: 700 };
    try {
      const verifier = JwtVerifier.open(jwtPolicy({ jwksUrl: provider.url }, "/"), capturingLogger([]), settings);
      const remembered = await token(first);
      await verifier.verify(remembered);
      provider.state.mode = "fail";
      await sleep(settings.maxAgeMs + 100);
      await verifier.verify(remembered);
      await sleep(settings.maxStaleMs);
      assertKeysUnavailable(await thrownBy(verifier.verify(remembered)));
      assertKeysUnavailable(await thrownBy(verifier.verify(await token(first))));

      provider.state.mode = "serve";
      await sleep(settings.cooldownMs + 50);
      await verifier.verify(remembered);
    } finally {
      await provider.close();
    }
  });
});

describe("JWKS rotation: a JWKS file", () => {
  let temp: { dir: string; remove(): Promise<void> };
  const keys: SigningKey[] = [];

  beforeAll(async () => {
    temp = await tempDir("jwks-file");
    keys.push(...(await Promise.all(["k1", "k2", "k3"].map(signingKey))));
  });

  afterAll(async () => {
    await temp.remove();
  });

  /** Replaces the file as an operator should: a new file renamed over the old, so no read sees half of it. */
  const write = (file: string, content: string) => {
    writeFileSync(`${file}.new`, content);
    renameSync(`${file}.new`, file);
  };

  it("reads the file again for a key it lacks (once per cooldown) and when past its age: added keys serve, removed keys' tokens are refused, a bad file changes nothing", async () => {
    const [k1, k2, k3] = keys as [SigningKey, SigningKey, SigningKey];
    const file = path.join(temp.dir, "jwks.json");
    write(file, JSON.stringify(jwks(k1)));
    const lines: LogLine[] = [];
    const settings = { ...DEFAULT_JWKS_SETTINGS, timeoutMs: 5_000, cooldownMs: 600, maxAgeMs: 1_500 };
    const verifier = JwtVerifier.open(jwtPolicy({ jwksFile: "jwks.json" }, temp.dir), capturingLogger(lines), settings);
    const k1Token = await token(k1);
    await verifier.verify(k1Token);

    // A key added: a token naming it makes the gateway read the file again, after the cooldown.
    write(file, JSON.stringify(jwks(k1, k2)));
    await sleep(settings.cooldownMs + 100);
    const k2Token = await token(k2);
    await verifier.verify(k2Token);

    // Within the cooldown of that read, a token naming another new key does not make it read the disk again.
    write(file, JSON.stringify(jwks(k1, k2, k3)));
    const k3Token = await token(k3);
    for (let i = 0; i < 20; i++) await assert.rejects(verifier.verify(k3Token), NO_MATCHING_KEY);
    await sleep(settings.cooldownMs + 100);
    await verifier.verify(k3Token);

    // A key removed: once the set is past its age, its tokens are refused, the one verified before too.
    // The set past its age is read again in the background at the next token; once it is in, k1's tokens fail.
    write(file, JSON.stringify(jwks(k2, k3)));
    await sleep(settings.maxAgeMs + 100);
    await verifier.verify(k2Token);
    await until(() => lines.some((line) => line.message.startsWith("JWKS changed") && JSON.stringify(line.fields?.kids) === JSON.stringify(["k2", "k3"])), "the set without k1 read");
    await assert.rejects(verifier.verify(k1Token), NO_MATCHING_KEY);
    await assert.rejects(verifier.verify(await token(k1)), NO_MATCHING_KEY);
    await verifier.verify(k2Token);

    // A malformed file, then none: the last good keys stay, and each failed read is logged.
    write(file, "{ not json");
    await sleep(settings.maxAgeMs + 100);
    await verifier.verify(await token(k3));
    await until(() => refusedKey(lines).length === 1, "the malformed file's read logged");
    rmSync(file);
    await sleep(settings.maxAgeMs + 100);
    await verifier.verify(await token(k2));
    await until(() => refusedKey(lines).length === 2, "the missing file's read logged");
    await assert.rejects(verifier.verify(await token(k1)), NO_MATCHING_KEY);
    const failed = refusedKey(lines);
    assert.equal(failed.length, 2);
    assert.match(String(failed[0]!.fields?.error), /SyntaxError/);
    assert.match(String(failed[1]!.fields?.error), /ENOENT/);
  });
});
