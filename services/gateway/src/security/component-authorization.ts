import { readFileSync } from "node:fs";
import { timingSafeEqual } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason, type Logger } from "@recq-mesh/protocol";
import type { AuthContext } from "./caller-authorization";
import { certificateNames, type CallerIdentity } from "./caller-identity";
import { MethodPatterns, NamePatterns } from "./method-rules";
import type { ComponentGrant } from "./security-policy";

/** A component as the gateway identified it, with what it may do. */
export interface IdentifiedComponent {
  name: string;
  mayHandle(method: string): boolean;
  mayConsume(consumer: string): boolean;
  mayCall(method: string): boolean;
  /** Its identity as the caller of the calls it makes through its link. */
  asCaller: CallerIdentity;
}

/**
 * Who a handler link or consumer stream is (security file `components`): the component whose token file holds
 * the token it presents, else the one its verified client certificate names; and what that component is granted.
 * Token files are read at each identification, so a rotated token takes effect at the component's next connect.
 */
export class ComponentAuthorization {
  private readonly components: ReadonlyMap<string, IdentifiedComponent>;

  constructor(
    private readonly grants: ReadonlyMap<string, ComponentGrant>,
    private readonly logger: Logger,
  ) {
    const components = new Map<string, IdentifiedComponent>();
    for (const grant of grants.values()) {
      const methods = new MethodPatterns(grant.methods, `components.${grant.name}.methods`);
      const calls = new MethodPatterns(grant.calls, `components.${grant.name}.calls`);
      const consumers = new NamePatterns(grant.consumers);
      components.set(grant.name, {
        name: grant.name,
        mayHandle: (method) => methods.matches(method),
        mayConsume: (consumer) => consumers.matches(consumer),
        mayCall: (method) => calls.matches(method),
        asCaller: { subject: `component:${grant.name}`, permissions: new Set(), claims: {} },
      });
    }
    this.components = components;
    // A token file that cannot be read now would refuse the component at its first connect: say so at start.
    for (const grant of grants.values()) if (grant.tokenFile !== undefined) this.tokenOf(grant);
  }

  /**
   * The component presenting `token` (or, without one, `auth`'s certificate). `claimed`: the name its Hello gives,
   * which must be its own. Missing or unknown credentials → UNAUTHENTICATED; another component's name → PERMISSION_DENIED.
   */
  identify(claimed: string | undefined, token: string, auth: AuthContext): IdentifiedComponent {
    const grant = token !== "" ? this.byToken(token) : this.byCertificate(claimed, auth);
    if (claimed !== undefined && claimed !== "" && claimed !== grant.name) {
      this.logger.debug("component presented another component's name", { claimed, identified: grant.name });
      throw new MeshError(status.PERMISSION_DENIED, `these credentials are not those of component ${claimed}`, Reason.PERMISSION_DENIED);
    }
    return this.components.get(grant.name)!;
  }

  private byToken(token: string): ComponentGrant {
    const presented = Buffer.from(token);
    for (const grant of this.grants.values()) {
      if (grant.tokenFile === undefined) continue;
      const expected = Buffer.from(this.tokenOf(grant));
      if (expected.length === presented.length && timingSafeEqual(expected, presented)) return grant;
    }
    this.logger.debug("component not authenticated", { detail: "no component's token matches" });
    throw new MeshError(status.UNAUTHENTICATED, "invalid credentials", Reason.UNAUTHENTICATED);
  }

  private byCertificate(claimed: string | undefined, auth: AuthContext): ComponentGrant {
    const names = certificateNames(auth.sslPeerCertificate);
    const candidates = [...this.grants.values()].filter((grant) => grant.certificateNames.some((name) => names.includes(name)));
    const chosen = candidates.find((grant) => grant.name === claimed) ?? candidates[0];
    if (chosen !== undefined) return chosen;
    this.logger.debug("component not authenticated", { detail: names.length === 0 ? "no token, no client certificate" : `certificate names ${names.join(", ")} are no component's` });
    throw new MeshError(status.UNAUTHENTICATED, "credentials are required", Reason.UNAUTHENTICATED);
  }

  private tokenOf(grant: ComponentGrant): string {
    return readFileSync(grant.tokenFile!, "utf8").trim();
  }
}
