import { ServerInterceptingCall, type Metadata, type ServerInterceptor, type StatusObject } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/protocol";
import type { CallerAuthorization } from "./caller-authorization";
import { setCallerIdentity } from "./caller-identity";
import { firstValue } from "../server/caller-trace-context";

/** How the interceptor treats a path: decided whole, authenticated only (its requests are checked one by one), or left to its service. */
export type CallerCheck = "authorize" | "authenticate" | "none";

/**
 * Applies the caller authorization to every call as its headers arrive, before the request is read, admitted or
 * run: a refused caller costs the gateway no admission slot and reaches no handler. The identity it establishes
 * is attached to the call's metadata object (caller-identity.ts) for the service to pass on to handlers.
 * `checkOf` says per path: "authorize" (the method decides: domain methods, outcomes, Listen, events, health,
 * reflection), "authenticate" (a reply channel's Open, whose every request names its own method), "none" (handler
 * links and consumer streams: components, not callers).
 */
export function callerInterceptor(authorization: CallerAuthorization, checkOf: (path: string) => CallerCheck): ServerInterceptor {
  return (method, call) => {
    const check = checkOf(method.path);
    if (check === "none") return new ServerInterceptingCall(call);
    const name = method.path.slice(1);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata: Metadata, pass: (metadata: Metadata) => void) => {
            const header = firstValue(metadata, "authorization");
            const decided =
              check === "authorize" ? authorization.authorize(name, header, call.getAuthContext()) : authorization.authenticate(header, call.getAuthContext());
            decided.then(
              (identity) => {
                setCallerIdentity(metadata, identity);
                pass(metadata);
              },
              (thrown: unknown) => call.sendStatus(MeshError.from(thrown).toStatus() as StatusObject),
            );
          },
        }),
    });
  };
}
