import { status, type ServerInterceptingCallInterface } from "@grpc/grpc-js";
import { MeshError, Reason, type Logger } from "@recq-mesh/protocol";
import { certificateNames, type CallerIdentity } from "./caller-identity";
// Type only: the verifier and its package (jose) are loaded when the security file configures JWTs (fromPolicy).
import type { JwtVerifier } from "./jwt-verifier";
import type { JwksSettings } from "./jwks-settings";
import { MethodPatterns, MethodRules } from "./method-rules";
import type { CallerPolicy } from "./security-policy";

/** What TLS established of a call's peer (grpc-js does not export the type by name). */
export type AuthContext = ReturnType<ServerInterceptingCallInterface["getAuthContext"]>;

const ANONYMOUS: CallerIdentity = Object.freeze({ subject: "", permissions: new Set<string>(), claims: {} });
/** In a permission list: any authenticated caller. */
const ANY_CALLER = "*";

/**
 * The one place that decides callers' calls (security file `callers`): who the caller is — a JWT bearer token,
 * else a client certificate the TLS handshake verified — and whether the permission table lets it call the
 * method. Missing or invalid credentials → UNAUTHENTICATED; valid but not allowed → PERMISSION_DENIED; a token that
 * cannot be verified because the JWKS cannot be loaded → UNAVAILABLE (KEYS_UNAVAILABLE). The
 * refusal says no more than that (which check failed is logged at debug).
 */
export class CallerAuthorization {
  private readonly open: MethodPatterns;
  private readonly rules: MethodRules<readonly string[]>;

  constructor(
    private readonly policy: CallerPolicy,
    private readonly jwt: JwtVerifier | undefined,
    private readonly logger: Logger,
  ) {
    this.open = new MethodPatterns(policy.open, "callers.open");
    this.rules = new MethodRules(policy.permissions, "callers.permissions");
  }

  /** `jwks`: how a JWKS URL or file is kept current (RECQ_JWKS_*); DEFAULT_JWKS_SETTINGS when not given. */
  static fromPolicy(policy: CallerPolicy, logger: Logger, jwks?: JwksSettings): CallerAuthorization {
    return new CallerAuthorization(policy, policy.jwt && jwtVerifierModule().JwtVerifier.open(policy.jwt, logger, jwks), logger);
  }

  /** Anyone may call these methods (health and reflection unless the file says otherwise). */
  isOpen(method: string): boolean {
    return this.open.matches(method);
  }

  /**
   * Authenticates the caller and checks that it may call `method` (`pkg.Service/Method`). `authorization`: the
   * call's `authorization` header (gRPC metadata or an HTTP header alike); `auth`: what TLS established of the peer.
   */
  async authorize(method: string, authorization: string | undefined, auth: AuthContext): Promise<CallerIdentity> {
    if (this.isOpen(method)) return ANONYMOUS;
    const identity = await this.authenticate(authorization, auth);
    this.check(identity, method);
    return identity;
  }

  /** Who the caller is; rejects with UNAUTHENTICATED (or UNAVAILABLE when the JWKS cannot be loaded). */
  async authenticate(authorization: string | undefined, auth: AuthContext): Promise<CallerIdentity> {
    if (authorization !== undefined) {
      if (this.jwt === undefined || !authorization.startsWith("Bearer ")) throw this.unauthenticated("invalid token", "not a bearer token, or no jwt configured");
      try {
        return this.identityOfClaims(await this.jwt.verify(authorization.slice(7).trim()));
      } catch (thrown) {
        // The identity provider's keys could not be had (UNAVAILABLE): the caller may try again, its token unjudged.
        if (thrown instanceof MeshError) throw thrown;
        throw this.unauthenticated("invalid token", thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown));
      }
    }
    for (const name of certificateNames(auth.sslPeerCertificate)) {
      const permissions = this.policy.certificates.get(name);
      if (permissions !== undefined) return { subject: name, permissions: new Set(permissions), claims: {} };
    }
    if (auth.sslPeerCertificate !== undefined) throw this.unauthenticated("invalid credentials", `client certificate names ${certificateNames(auth.sslPeerCertificate).join(", ")} are not callers`);
    throw this.unauthenticated("credentials are required: send authorization: Bearer <token>", "no credentials");
  }

  /** Throws PERMISSION_DENIED unless the permission table lets `identity` call `method`. */
  check(identity: CallerIdentity, method: string): void {
    const allowed = this.rules.find(method);
    if (allowed !== undefined && allowed.some((permission) => permission === ANY_CALLER || identity.permissions.has(permission))) return;
    this.logger.debug("caller refused a method", { subject: identity.subject, method, rule: allowed === undefined ? "no rule" : allowed.join(" ") });
    throw new MeshError(status.PERMISSION_DENIED, `the caller may not call ${method}`, Reason.PERMISSION_DENIED);
  }

  private identityOfClaims(claims: Record<string, unknown>): CallerIdentity {
    const jwt = this.policy.jwt!;
    const listed = claims[jwt.permissionsClaim];
    const permissions = typeof listed === "string" ? listed.split(" ").filter((p) => p !== "") : Array.isArray(listed) ? listed.filter((p): p is string => typeof p === "string") : [];
    const forwarded: Record<string, unknown> = {};
    for (const claim of jwt.forwardClaims) if (claims[claim] !== undefined) forwarded[claim] = claims[claim];
    return { subject: String(claims.sub), permissions: new Set(permissions), claims: forwarded };
  }

  private unauthenticated(message: string, detail: string): MeshError {
    this.logger.debug("caller not authenticated", { detail });
    return new MeshError(status.UNAUTHENTICATED, message, Reason.UNAUTHENTICATED);
  }
}

/** The JWT verifier's module, loaded on first use: callers with client certificates alone never load jose. */
function jwtVerifierModule(): typeof import("./jwt-verifier") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  return require("./jwt-verifier") as typeof import("./jwt-verifier");
}
