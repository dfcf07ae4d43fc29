/**
 * How the gateway keeps a JWKS (the security file's `jwt.jwksUrl` or `jwt.jwksFile`) current, read from the
 * environment (docs/security.md, "Key rotation").
 */
export interface JwksSettings {
  /**
   * How long a fetch of `jwksUrl` may take, its whole body included, before it fails (RECQ_JWKS_TIMEOUT_MS); also
   * the longest a call waits on a load of the set (the first one, or one for a key the set lacks).
   */
  timeoutMs: number;
  /**
   * After a fetch or read of the set, successful or not, none other for this long (RECQ_JWKS_COOLDOWN_MS): tokens
   * naming keys the set lacks cannot make the gateway fetch or read it once per call.
   */
  cooldownMs: number;
  /** A set older than this is fetched or read again, in the background, at the next token (RECQ_JWKS_MAX_AGE_MS). */
  maxAgeMs: number;
  /** The largest JWKS body a fetch of `jwksUrl` takes (RECQ_JWKS_MAX_BYTES); a larger one fails the fetch. */
  maxBytes: number;
  /**
   * When no fetch or read has succeeded for this long, tokens are refused (UNAVAILABLE) rather than verified with
   * keys the provider may have removed (RECQ_JWKS_MAX_STALE_MS). 0: never (the last good keys serve until a load
   * succeeds).
   */
  maxStaleMs: number;
}

export const DEFAULT_JWKS_SETTINGS: Readonly<JwksSettings> = Object.freeze({
  timeoutMs: 5_000,
  cooldownMs: 30_000,
  maxAgeMs: 600_000,
  maxBytes: 1024 * 1024,
  maxStaleMs: 0,
});

/** Each setting's variable and its least value (0 only where 0 means "off"). */
const VARIABLES: Record<keyof JwksSettings, { name: string; least: number }> = {
  timeoutMs: { name: "RECQ_JWKS_TIMEOUT_MS", least: 1 },
  cooldownMs: { name: "RECQ_JWKS_COOLDOWN_MS", least: 1 },
  maxAgeMs: { name: "RECQ_JWKS_MAX_AGE_MS", least: 1 },
  maxBytes: { name: "RECQ_JWKS_MAX_BYTES", least: 1 },
  maxStaleMs: { name: "RECQ_JWKS_MAX_STALE_MS", least: 0 },
};

/** Node timers hold at most 2^31-1 ms (and no JWKS comes near 2 GiB). */
const MAX_VALUE = 2 ** 31 - 1;

export function jwksSettingsFromEnv(env: NodeJS.ProcessEnv): JwksSettings {
  const settings = { ...DEFAULT_JWKS_SETTINGS };
  for (const key of Object.keys(VARIABLES) as (keyof JwksSettings)[]) {
    const { name, least } = VARIABLES[key];
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < least || value > MAX_VALUE) throw new Error(`${name} must be an integer from ${least} to ${MAX_VALUE}, not "${raw}"`);
    settings[key] = value;
  }
  return settings;
}
