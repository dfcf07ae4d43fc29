import { timingSafeEqual } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";

/**
 * Checks a presented token against the configured one (none configured: everything passes).
 * Missing → UNAUTHENTICATED; present but wrong → PERMISSION_DENIED. Compared in constant time.
 */
export function checkCredentials(expected: string | undefined, presented: string | undefined): void {
  if (!expected) return;
  if (!presented) throw new MeshError(status.UNAUTHENTICATED, "credentials are required", Reason.UNAUTHENTICATED);
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new MeshError(status.PERMISSION_DENIED, "the credentials presented are not valid", Reason.PERMISSION_DENIED);
  }
}
