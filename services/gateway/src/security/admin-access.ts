import type { Metadata } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/protocol";
import { checkCredentials } from "../links/credentials";
import { firstValue } from "../server/caller-trace-context";

/**
 * The simple mode's tokens that decide who may call the admin services (recq.v1.DeadEventService,
 * recq.v1.ProjectionAdminService): what an operator does to consumers, not what every caller of the domain may.
 */
export interface AdminTokens {
  /** RECQ_ADMIN_TOKEN: when set, the only token the admin services take (the callers' token is refused). */
  adminToken: string | undefined;
  /** RECQ_CLIENT_TOKEN: without an admin token, the admin services take it, as before (none: open). */
  clientToken: string | undefined;
}

/** Checks a call's `authorization: Bearer …` against the admin services' token; throws the MeshError the caller gets. */
export type AdminCheck = (metadata: Metadata) => void;

/**
 * The simple mode's check of the admin services: the admin token when set — missing → UNAUTHENTICATED, any other
 * token (the callers' too) → PERMISSION_DENIED; otherwise the callers' token, as for every call. With a security file's
 * `callers`, neither token is set (config.ts refuses them) and the permission table decides, as for any method.
 */
export function adminCheck(tokens: AdminTokens): AdminCheck {
  const { adminToken, clientToken } = tokens;
  if (adminToken === undefined) return (metadata) => checkCredentials(clientToken, bearerToken(metadata));
  return (metadata) => {
    try {
      checkCredentials(adminToken, bearerToken(metadata));
    } catch (thrown) {
      const error = MeshError.from(thrown);
      throw new MeshError(error.code, `${error.message}: the admin services take the admin token (RECQ_ADMIN_TOKEN)`, error.reason);
    }
  };
}

function bearerToken(metadata: Metadata): string | undefined {
  const header = firstValue(metadata, "authorization");
  return header?.startsWith("Bearer ") ? header.slice(7) : header;
}
