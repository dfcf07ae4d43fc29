import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * The gateway's security file (RECQ_SECURITY_FILE, JSON): who its callers and its components are, and what each
 * may do. Paths in it are relative to the file's folder. docs/security.md describes every field.
 */
export interface SecurityPolicy {
  /** Absent: callers are checked as before, with RECQ_CLIENT_TOKEN / RECQ_EVENTS_TOKEN (the simple mode). */
  callers: CallerPolicy | undefined;
  /** Absent: components are checked with RECQ_LINK_TOKEN (the simple mode). */
  components: ReadonlyMap<string, ComponentGrant> | undefined;
}

export interface CallerPolicy {
  jwt: JwtPolicy | undefined;
  /** Callers known by their mTLS certificate: a name (subject CN or DNS SAN) → its permissions. */
  certificates: ReadonlyMap<string, readonly string[]>;
  /** Methods anyone may call without credentials. Default: health and reflection. */
  open: readonly string[];
  /** Method pattern → the permissions that allow it (any one of them; `*` = any authenticated caller). */
  permissions: ReadonlyArray<readonly [string, readonly string[]]>;
}

export interface JwtPolicy {
  /** A JWKS file (asymmetric keys: RS*, PS*, ES*, EdDSA), or … */
  jwksFile: string | undefined;
  /** … a JWKS URL (an identity provider's `jwks_uri`: https, or http to a loopback host), or … */
  jwksUrl: string | undefined;
  /** … a file holding the shared secret of HS256 tokens. */
  secretFile: string | undefined;
  issuer: string;
  audience: string;
  /** The claim that lists a caller's permissions: a space-separated string or an array. Default `scope`. */
  permissionsClaim: string;
  /** Claims passed to handlers with each call (`recq-caller-claims`), beside the subject. */
  forwardClaims: readonly string[];
  clockToleranceSeconds: number;
}

export interface ComponentGrant {
  name: string;
  /** The file holding this component's link token, when it authenticates with one. */
  tokenFile: string | undefined;
  /** mTLS identities (subject CN or DNS SAN) that are this component. */
  certificateNames: readonly string[];
  /** Method patterns it may subscribe to (handle). */
  methods: readonly string[];
  /** Consumer names it may open (`name*` for a prefix). */
  consumers: readonly string[];
  /** Method patterns it may call through its link. Default none. */
  calls: readonly string[];
}

export const DEFAULT_OPEN_METHODS = ["grpc.health.v1.Health/*", "grpc.reflection.v1.ServerReflection/*", "grpc.reflection.v1alpha.ServerReflection/*"];

/** Reads and checks the security file; any mistake stops the gateway at start, naming the field. */
export function readSecurityPolicy(file: string): SecurityPolicy {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    // Not `instanceof Error`: errors of another realm (a test runner's sandbox) are errors too.
    const message = typeof (error as { message?: unknown } | null)?.message === "string" ? (error as { message: string }).message : String(error);
    throw new Error(`RECQ_SECURITY_FILE ${file}: ${message}`);
  }
  return parseSecurityPolicy(json, path.dirname(path.resolve(file)), `RECQ_SECURITY_FILE ${file}`);
}

export function parseSecurityPolicy(json: unknown, baseDir: string, where: string): SecurityPolicy {
  const root = object(json, where);
  known(root, ["callers", "components"], where);
  return {
    callers: root.callers === undefined ? undefined : callerPolicy(object(root.callers, `${where}: callers`), baseDir, `${where}: callers`),
    components: root.components === undefined ? undefined : componentGrants(object(root.components, `${where}: components`), baseDir, `${where}: components`),
  };
}

function callerPolicy(value: Record<string, unknown>, baseDir: string, where: string): CallerPolicy {
  known(value, ["jwt", "certificates", "open", "permissions"], where);
  const certificates = new Map<string, readonly string[]>();
  for (const [name, permissions] of Object.entries(value.certificates === undefined ? {} : object(value.certificates, `${where}.certificates`))) {
    certificates.set(name, strings(permissions, `${where}.certificates.${name}`));
  }
  const permissions = Object.entries(object(value.permissions ?? {}, `${where}.permissions`)).map(
    ([pattern, allowed]) => [pattern, strings(allowed, `${where}.permissions["${pattern}"]`)] as const,
  );
  const jwt = value.jwt === undefined ? undefined : jwtPolicy(object(value.jwt, `${where}.jwt`), baseDir, `${where}.jwt`);
  if (jwt === undefined && certificates.size === 0) throw new Error(`${where}: give jwt, certificates or both: callers need a way to authenticate`);
  return { jwt, certificates, open: value.open === undefined ? DEFAULT_OPEN_METHODS : strings(value.open, `${where}.open`), permissions };
}

function jwtPolicy(value: Record<string, unknown>, baseDir: string, where: string): JwtPolicy {
  known(value, ["jwksFile", "jwksUrl", "secretFile", "issuer", "audience", "permissionsClaim", "forwardClaims", "clockToleranceSeconds"], where);
  const jwksFile = optionalString(value.jwksFile, `${where}.jwksFile`);
  const jwksUrl = optionalString(value.jwksUrl, `${where}.jwksUrl`);
  const secretFile = optionalString(value.secretFile, `${where}.secretFile`);
  if ([jwksFile, jwksUrl, secretFile].filter((given) => given !== undefined).length !== 1) throw new Error(`${where}: give jwksFile, jwksUrl or secretFile (one of them)`);
  if (jwksUrl !== undefined) checkJwksUrl(jwksUrl, `${where}.jwksUrl`);
  const issuer = optionalString(value.issuer, `${where}.issuer`);
  const audience = optionalString(value.audience, `${where}.audience`);
  // A token for another service of the same issuer must not open this gateway: both are checked, always.
  if (issuer === undefined || audience === undefined) throw new Error(`${where}: issuer and audience are required`);
  const tolerance = value.clockToleranceSeconds ?? 0;
  if (typeof tolerance !== "number" || !Number.isInteger(tolerance) || tolerance < 0 || tolerance > 300) {
    throw new Error(`${where}.clockToleranceSeconds must be an integer from 0 to 300`);
  }
  return {
    jwksFile: jwksFile && path.resolve(baseDir, jwksFile),
    jwksUrl,
    secretFile: secretFile && path.resolve(baseDir, secretFile),
    issuer,
    audience,
    permissionsClaim: optionalString(value.permissionsClaim, `${where}.permissionsClaim`) ?? "scope",
    forwardClaims: value.forwardClaims === undefined ? [] : strings(value.forwardClaims, `${where}.forwardClaims`),
    clockToleranceSeconds: tolerance,
  };
}

/** The keys that decide who may call must come over TLS, or from this machine. */
function checkJwksUrl(value: string, where: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${where}: "${value}" is not a URL`);
  }
  const loopback = url.hostname === "localhost" || url.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol === "https:" || (url.protocol === "http:" && loopback)) return;
  throw new Error(`${where}: "${value}" must be an https URL (http only to a loopback host: 127.0.0.1, ::1, localhost)`);
}

function componentGrants(value: Record<string, unknown>, baseDir: string, where: string): Map<string, ComponentGrant> {
  const grants = new Map<string, ComponentGrant>();
  for (const [name, raw] of Object.entries(value)) {
    const at = `${where}.${name}`;
    const grant = object(raw, at);
    known(grant, ["tokenFile", "certificateNames", "methods", "consumers", "calls"], at);
    const tokenFile = optionalString(grant.tokenFile, `${at}.tokenFile`);
    const certificateNames = grant.certificateNames === undefined ? [] : strings(grant.certificateNames, `${at}.certificateNames`);
    if (tokenFile === undefined && certificateNames.length === 0) throw new Error(`${at}: give tokenFile, certificateNames or both: the component needs a way to authenticate`);
    grants.set(name, {
      name,
      tokenFile: tokenFile && path.resolve(baseDir, tokenFile),
      certificateNames,
      methods: grant.methods === undefined ? [] : strings(grant.methods, `${at}.methods`),
      consumers: grant.consumers === undefined ? [] : strings(grant.consumers, `${at}.consumers`),
      calls: grant.calls === undefined ? [] : strings(grant.calls, `${at}.calls`),
    });
  }
  return grants;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function known(value: Record<string, unknown>, fields: readonly string[], where: string): void {
  for (const key of Object.keys(value)) if (!fields.includes(key)) throw new Error(`${where}: unknown field "${key}" (known: ${fields.join(", ")})`);
}

function strings(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string" && item !== "")) throw new Error(`${where} must be an array of non-empty strings`);
  return value as string[];
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") throw new Error(`${where} must be a non-empty string`);
  return value;
}
