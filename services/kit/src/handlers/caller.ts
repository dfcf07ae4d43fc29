/** Who called, as the gateway authenticated the caller (a JWT's subject and forwarded claims, or a certificate's name). */
export interface Caller {
  subject: string;
  /** The claims the gateway's security file forwards (`callers.jwt.forwardClaims`). */
  claims: Readonly<Record<string, unknown>>;
}

/** Headers the gateway sets from the caller's verified identity; a caller cannot send them itself. */
export const CALLER_SUBJECT_HEADER = "recq-caller-subject";
export const CALLER_CLAIMS_HEADER = "recq-caller-claims";

/** The caller of a dispatch, from its headers; undefined when the gateway authenticated none (the simple mode, open methods). */
export function callerOf(headers: Readonly<Record<string, string>>): Caller | undefined {
  const subject = headers[CALLER_SUBJECT_HEADER];
  if (subject === undefined || subject === "") return undefined;
  return { subject, claims: parseClaims(headers[CALLER_CLAIMS_HEADER]) };
}

function parseClaims(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    const claims: unknown = JSON.parse(text);
    return typeof claims === "object" && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
