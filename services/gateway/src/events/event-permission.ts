import { status, type Metadata } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { checkCredentials } from "../links/credentials";
import { firstValue } from "../server/caller-trace-context";

/** The tokens that decide who may subscribe to events (docs/configuration.md, "Who may subscribe to events"). */
export interface EventPermissionTokens {
  /** RECQ_EVENTS_TOKEN: what event subscribers present. */
  eventsToken: string | undefined;
  /** RECQ_CLIENT_TOKEN: what callers of domain services present; it never grants events. */
  clientToken: string | undefined;
}

/**
 * Permission to subscribe is not permission to call: the event stream carries every aggregate's events, where a
 * caller's token lets it send commands and read views through handlers that decide what it may see.
 * - events token set: subscribers present it as `authorization: Bearer <token>` (missing → UNAUTHENTICATED,
 *   another → PERMISSION_DENIED; the caller token is another);
 * - neither token set: open, as the whole gateway is;
 * - only the caller token set: closed. A gateway that guards its calls must not hand out its events to anyone
 *   (nor to its callers), so every subscription gets PERMISSION_DENIED naming the setting that grants it.
 */
export function checkEventPermission(tokens: EventPermissionTokens, metadata: Metadata): void {
  if (!tokens.eventsToken) {
    if (!tokens.clientToken) return;
    throw new MeshError(
      status.PERMISSION_DENIED,
      "event subscriptions are closed on this gateway: it requires a token of callers (RECQ_CLIENT_TOKEN) and none of event subscribers; set RECQ_EVENTS_TOKEN to grant them",
      Reason.PERMISSION_DENIED,
    );
  }
  const header = firstValue(metadata, "authorization");
  try {
    checkCredentials(tokens.eventsToken, header?.startsWith("Bearer ") ? header.slice(7) : header);
  } catch (thrown) {
    const error = MeshError.from(thrown);
    // The same codes as any credentials check, with the setting to ask for: the caller token is not it.
    throw new MeshError(error.code, `${error.message}: event subscriptions take the events token (RECQ_EVENTS_TOKEN) as authorization: Bearer <token>`, error.reason);
  }
}
