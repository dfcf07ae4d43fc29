import type { Metadata, ServerWritableStream, sendUnaryData } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/protocol";
import type { CallerAuthorization } from "../security/caller-authorization";
import { setCallerIdentity } from "../security/caller-identity";
import { firstValue } from "../server/caller-trace-context";
import type { ServedMethod } from "./recording-server";

/** What an HTTP call hands a served implementation: its metadata, like a grpc-js call. */
interface CallWithMetadata {
  metadata: Metadata;
}

/**
 * A served method held to the callers' permissions (the security file's `callers`) as its gRPC call is by the
 * caller interceptor: over gRPC the interceptor runs before the implementation, but an HTTP call runs the recorded
 * implementation directly (recording-server.ts), so the same decision is made here, and the identity it establishes
 * is attached to the call's metadata for the implementation to pass on to handlers. The HTTP port is cleartext:
 * callers present a token (`Authorization: Bearer …`); no client certificate can be offered.
 */
export function authorizedMethod(method: ServedMethod, callers: CallerAuthorization): ServedMethod {
  const name = method.path.slice(1);
  const decide = (call: CallWithMetadata) =>
    callers.authorize(name, firstValue(call.metadata, "authorization"), {}).then((identity) => setCallerIdentity(call.metadata, identity));
  const implementation = method.implementation as (call: CallWithMetadata, callback?: sendUnaryData<unknown>) => void;
  if (method.responseStream) {
    return {
      ...method,
      implementation: ((call: ServerWritableStream<unknown, unknown>) => {
        decide(call).then(
          () => implementation(call),
          (thrown: unknown) => call.emit("error", MeshError.from(thrown).toStatus()),
        );
      }) as ServedMethod["implementation"],
    };
  }
  return {
    ...method,
    implementation: ((call: CallWithMetadata, callback: sendUnaryData<unknown>) => {
      decide(call).then(
        () => implementation(call, callback),
        (thrown: unknown) => callback(MeshError.from(thrown).toStatus()),
      );
    }) as ServedMethod["implementation"],
  };
}
