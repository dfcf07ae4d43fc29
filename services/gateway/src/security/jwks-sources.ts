import { readFile } from "node:fs/promises";
import type { JSONWebKeySet } from "jose";
import type { JwksSettings } from "./jwks-settings";
import type { KeySetSource } from "./refreshing-key-set";

/** A JWKS file, read again on each load (write a new one to a temporary file and rename it over the old). */
export function jwksFileSource(file: string): KeySetSource {
  return { name: file, load: async () => JSON.parse(await readFile(file, "utf8")) as JSONWebKeySet };
}

/**
 * A JWKS URL (an identity provider's `jwks_uri`), fetched by the gateway itself rather than by jose's
 * `createRemoteJWKSet`, whose timeout covers only the response headers: a provider that answers 200 and then stalls
 * its body would hold the load for ever. Here `timeoutMs` bounds the whole request, body included; a redirect, a
 * status other than 200 and a body over `maxBytes` fail the fetch. jose only checks the set's form
 * (refreshing-key-set.ts). When to fetch is the RefreshingKeySet's to decide.
 */
export function jwksUrlSource(url: string, settings: Pick<JwksSettings, "timeoutMs" | "maxBytes">): KeySetSource {
  return {
    name: url,
    load: async () => {
      const signal = AbortSignal.timeout(settings.timeoutMs);
      const response = await fetch(url, { signal, redirect: "error", headers: { accept: "application/jwk-set+json, application/json" } });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new Error(`expected 200 OK from ${url}, got ${response.status} ${response.statusText}`);
      }
      return JSON.parse(await boundedText(response, settings.maxBytes)) as JSONWebKeySet;
    },
  };
}

/** The response's body as text; throws as soon as it exceeds `maxBytes` (announced or received). */
async function boundedText(response: Response, maxBytes: number): Promise<string> {
  const tooLarge = () => new Error(`the JWKS is larger than RECQ_JWKS_MAX_BYTES (${maxBytes} bytes)`);
  if (Number(response.headers.get("content-length") ?? 0) > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
