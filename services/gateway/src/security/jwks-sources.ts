import { readFile } from "node:fs/promises";
import { createRemoteJWKSet, type JSONWebKeySet } from "jose";
import type { JwksSettings } from "./jwks-settings";
import type { KeySetSource } from "./refreshing-key-set";

/** A JWKS file, read again on each load (write a new one to a temporary file and rename it over the old). */
export function jwksFileSource(file: string): KeySetSource {
  return { name: file, load: async () => JSON.parse(await readFile(file, "utf8")) as JSONWebKeySet };
}

/**
 * A JWKS URL (an identity provider's `jwks_uri`), fetched by jose's `createRemoteJWKSet` with the settings'
 * timeout. When to fetch is the RefreshingKeySet's to decide (its cooldown and maximum age, the same settings):
 * unlike jose's own set, it keeps the last good keys when a fetch fails.
 */
export function jwksUrlSource(url: string, settings: JwksSettings): KeySetSource {
  const remote = createRemoteJWKSet(new URL(url), { timeoutDuration: settings.timeoutMs, cooldownDuration: settings.cooldownMs, cacheMaxAge: settings.maxAgeMs });
  return {
    name: url,
    load: async () => {
      await remote.reload();
      return remote.jwks()!;
    },
  };
}
