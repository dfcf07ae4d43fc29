/**
 * How the gateway keeps a JWKS (the security file's `jwt.jwksUrl` or `jwt.jwksFile`) current, read from the
 * environment (docs/security.md, "Key rotation"). The defaults are jose's own for `createRemoteJWKSet`.
 */
export interface JwksSettings {
  /** How long a fetch of `jwksUrl` may take before it fails (RECQ_JWKS_TIMEOUT_MS). */
  timeoutMs: number;
  /**
   * After a fetch or read of the set, successful or not, none other for this long (RECQ_JWKS_COOLDOWN_MS): tokens
   * naming keys the set lacks cannot make the gateway fetch or read it once per call.
   */
  cooldownMs: number;
  /** A set older than this is fetched or read again before it verifies the next token (RECQ_JWKS_MAX_AGE_MS). */
  maxAgeMs: number;
}

export const DEFAULT_JWKS_SETTINGS: Readonly<JwksSettings> = Object.freeze({ timeoutMs: 5_000, cooldownMs: 30_000, maxAgeMs: 600_000 });

const VARIABLES: Record<keyof JwksSettings, string> = {
  timeoutMs: "RECQ_JWKS_TIMEOUT_MS",
  cooldownMs: "RECQ_JWKS_COOLDOWN_MS",
  maxAgeMs: "RECQ_JWKS_MAX_AGE_MS",
};

/** Node timers hold at most 2^31-1 ms. */
const MAX_MS = 2 ** 31 - 1;

export function jwksSettingsFromEnv(env: NodeJS.ProcessEnv): JwksSettings {
  const settings = { ...DEFAULT_JWKS_SETTINGS };
  for (const key of Object.keys(VARIABLES) as (keyof JwksSettings)[]) {
    const raw = env[VARIABLES[key]];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > MAX_MS) throw new Error(`${VARIABLES[key]} must be an integer from 1 to ${MAX_MS}, not "${raw}"`);
    settings[key] = value;
  }
  return settings;
}
