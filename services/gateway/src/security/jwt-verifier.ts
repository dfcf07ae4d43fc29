import { readFileSync } from "node:fs";
import { jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import type { Logger } from "@recq-mesh/protocol";
import { jwksFileSource, jwksUrlSource } from "./jwks-sources";
import { DEFAULT_JWKS_SETTINGS, type JwksSettings } from "./jwks-settings";
import { RefreshingKeySet } from "./refreshing-key-set";
import type { JwtPolicy } from "./security-policy";

/** Asymmetric algorithms a JWKS key may sign with; HS256 only with the shared secret (never a key confusion). */
const JWKS_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
/** Verified tokens kept, so that a caller's next call with the same token costs a map lookup. */
const MAX_CACHED_TOKENS = 10_000;

/**
 * Verifies callers' bearer tokens as JWTs (jose): the signature against the JWKS's keys (a URL or a file, kept
 * current: refreshing-key-set.ts) or the shared secret, then `exp` (required), `nbf`, `iss`, `aud` and `sub`
 * (required). A verified token is remembered until its `exp`, within a bounded map, so verification is paid once per
 * token rather than once per call — and again when the JWKS's keys change, so a removed key's tokens are refused.
 */
export class JwtVerifier {
  private readonly cache = new Map<string, { payload: JWTPayload; expiresAtMs: number; generation: number }>();

  private constructor(
    private readonly policy: JwtPolicy,
    private readonly key: Uint8Array | RefreshingKeySet,
    private readonly algorithms: string[],
  ) {}

  /**
   * Reads the secret or the JWKS file (at start: a missing or malformed file stops the gateway); a JWKS URL is
   * fetched when the first token needs it.
   */
  static open(policy: JwtPolicy, logger: Logger, jwks: JwksSettings = DEFAULT_JWKS_SETTINGS): JwtVerifier {
    if (policy.secretFile !== undefined) {
      const secret = readFileSync(policy.secretFile);
      // RFC 7518 §3.2: an HS256 key must be at least as long as the hash.
      if (secret.length < 32) throw new Error(`${policy.secretFile}: an HS256 secret must be at least 32 bytes, not ${secret.length}`);
      return new JwtVerifier(policy, new Uint8Array(secret), ["HS256"]);
    }
    if (policy.jwksUrl !== undefined) return new JwtVerifier(policy, new RefreshingKeySet(jwksUrlSource(policy.jwksUrl, jwks), jwks, logger), JWKS_ALGORITHMS);
    const file = policy.jwksFile!;
    const set = JSON.parse(readFileSync(file, "utf8")) as JSONWebKeySet;
    return new JwtVerifier(policy, new RefreshingKeySet(jwksFileSource(file), jwks, logger, { set, loadedAtMs: Date.now() }), JWKS_ALGORITHMS);
  }

  /**
   * The token's claims; rejects (with jose's error, for the debug log) when it is not valid now, or with a MeshError
   * (UNAVAILABLE) when the JWKS's keys cannot be had.
   */
  async verify(token: string): Promise<JWTPayload> {
    const keys = this.key instanceof RefreshingKeySet ? this.key : undefined;
    // Refreshes a set past its age in the background, and refuses (UNAVAILABLE) when there are no keys to trust: a
    // remembered token does not outlive the keys it was verified with. A refresh that changes them changes the generation.
    if (keys !== undefined) await keys.usableKeys();
    const generation = keys?.generation ?? 0;
    const now = Date.now();
    const cached = this.cache.get(token);
    if (cached !== undefined) {
      if (cached.expiresAtMs > now && cached.generation === generation) return cached.payload;
      this.cache.delete(token);
    }
    const options = {
      algorithms: this.algorithms,
      issuer: this.policy.issuer,
      audience: this.policy.audience,
      requiredClaims: ["exp", "sub"],
      clockTolerance: this.policy.clockToleranceSeconds,
    };
    const { payload } = keys !== undefined ? await jwtVerify(token, keys.getKey, options) : await jwtVerify(token, this.key as Uint8Array, options);
    if (this.cache.size >= MAX_CACHED_TOKENS) this.cache.delete(this.cache.keys().next().value!);
    // Remembered for the keys as they were before: if a load changed them meanwhile, the next call verifies again.
    this.cache.set(token, { payload, expiresAtMs: payload.exp! * 1000 + this.policy.clockToleranceSeconds * 1000, generation });
    return payload;
  }
}
