import type { Metadata } from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";

/** Who made a call, as the gateway established it. */
export interface CallerIdentity {
  /** The token's `sub`, or the client certificate's name; empty for a call to an open method. */
  subject: string;
  /** What the caller may do: the token's permissions claim, or its certificate's permissions. */
  permissions: ReadonlySet<string>;
  /** Claims passed to handlers (the security file's `forwardClaims`). */
  claims: Readonly<Record<string, unknown>>;
}

/** Headers that carry the caller's identity to handlers; a caller's own `recq-caller-*` metadata is never forwarded. */
export const CALLER_SUBJECT_HEADER = "recq-caller-subject";
export const CALLER_CLAIMS_HEADER = "recq-caller-claims";

/**
 * The identity the caller-authorization interceptor established for a call, by the call's metadata object (the
 * one grpc-js hands to the service's handler): no header a caller could forge carries it inside the gateway.
 */
const identities = new WeakMap<Metadata, CallerIdentity>();

export function setCallerIdentity(metadata: Metadata, identity: CallerIdentity): void {
  identities.set(metadata, identity);
}

export function callerIdentityOf(metadata: Metadata): CallerIdentity | undefined {
  return identities.get(metadata);
}

/** `headers` plus the identity's headers (a new object: `headers` may be shared). */
export function withCallerHeaders(headers: Record<string, string>, identity: CallerIdentity | undefined): Record<string, string> {
  if (identity === undefined || identity.subject === "") return headers;
  const withIdentity: Record<string, string> = { ...headers, [CALLER_SUBJECT_HEADER]: identity.subject };
  if (Object.keys(identity.claims).length > 0) withIdentity[CALLER_CLAIMS_HEADER] = JSON.stringify(identity.claims);
  return withIdentity;
}

/** The names a verified client certificate stands for: its subject CN and its DNS SANs. */
export function certificateNames(certificate: PeerCertificate | undefined): string[] {
  if (certificate === undefined) return [];
  const names: string[] = [];
  const commonName = certificate.subject?.CN as string | string[] | undefined;
  if (typeof commonName === "string") names.push(commonName);
  else if (Array.isArray(commonName)) names.push(...commonName);
  for (const entry of (certificate.subjectaltname ?? "").split(", ")) if (entry.startsWith("DNS:")) names.push(entry.slice(4));
  return names;
}
