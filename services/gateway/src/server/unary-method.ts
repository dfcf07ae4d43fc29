import type { ServerUnaryCall, handleUnaryCall } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import { MeshError, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import { callerTraceContext } from "./caller-trace-context";

/**
 * A unary method of one of the gateway's own recq.v1 services (dead events, projections, saga state): a server span
 * named after the method, the caller admitted (`admit` throws the MeshError it gets) before the answer is worked out,
 * then exactly one answer — the response, or the status of whatever was thrown, synchronously or not.
 */
export function unaryMethod<Req, Res>(
  path: string,
  admit: (call: ServerUnaryCall<Req, Res>) => void,
  answer: (request: Req) => Res | Promise<Res>,
): handleUnaryCall<Req, Res> {
  const name = path.slice(1);
  return (call, callback) => {
    const span = startRpcSpan(name, SpanKind.SERVER, callerTraceContext(call.metadata));
    Promise.resolve()
      .then(() => {
        admit(call);
        return answer(call.request);
      })
      .then(
        (response) => {
          recordRpcOutcome(span);
          span.end();
          callback(null, response);
        },
        (thrown: unknown) => {
          const error = MeshError.from(thrown);
          recordRpcOutcome(span, error);
          span.end();
          callback(error.toStatus());
        },
      );
  };
}
