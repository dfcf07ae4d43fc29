import { readFileSync } from "node:fs";
import { createLocalJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { JwtPolicy } from "./security-policy";

/** Asymmetric algorithms a JWKS key may sign with; HS256 only with the shared secret (never a key confusion). */
const JWKS_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
/** Verified tokens kept, so that a caller's next call with the same token costs a map lookup. */
const MAX_CACHED_TOKENS = 10_000;

/**
 * Verifies callers' bearer tokens as JWTs (jose): the signature against the JWKS file's keys or the shared secret,
 * then `exp` (required), `nbf`, `iss`, `aud` and `sub` (required). A verified token is remembered until its `exp`,
 * within a bounded map, so verification is paid once per token rather than once per call.
 */
export class JwtVerifier {
  private readonly cache = new Map<string, { payload: JWTPayload; expiresAtMs: number }>();

  private constructor(
    private readonly policy: JwtPolicy,
    private readonly key: Uint8Array | JWTVerifyGetKey,
    private readonly algorithms: string[],
  ) {}

  /** Reads the JWKS or the secret (at start: a missing or malformed file stops the gateway). */
  static open(policy: JwtPolicy): JwtVerifier {
    if (policy.secretFile !== undefined) {
      const secret = readFileSync(policy.secretFile);
      // RFC 7518 §3.2: an HS256 key must be at least as long as the hash.
      if (secret.length < 32) throw new Error(`${policy.secretFile}: an HS256 secret must be at least 32 bytes, not ${secret.length}`);
      return new JwtVerifier(policy, new Uint8Array(secret), ["HS256"]);
    }
    const jwks: unknown = JSON.parse(readFileSync(policy.jwksFile!, "utf8"));
    return new JwtVerifier(policy, createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]), JWKS_ALGORITHMS);
  }

  /** The token's claims; rejects (with jose's error, for the debug log) when it is not valid now. */
  async verify(token: string): Promise<JWTPayload> {
    const now = Date.now();
    const cached = this.cache.get(token);
    if (cached !== undefined) {
      if (cached.expiresAtMs > now) return cached.payload;
      this.cache.delete(token);
    }
    const options = {
      algorithms: this.algorithms,
      issuer: this.policy.issuer,
      audience: this.policy.audience,
      requiredClaims: ["exp", "sub"],
      clockTolerance: this.policy.clockToleranceSeconds,
    };
    const { payload } = typeof this.key === "function" ? await jwtVerify(token, this.key, options) : await jwtVerify(token, this.key, options);
    if (this.cache.size >= MAX_CACHED_TOKENS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(token, { payload, expiresAtMs: payload.exp! * 1000 + this.policy.clockToleranceSeconds * 1000 });
    return payload;
  }
}
