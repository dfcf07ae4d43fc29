import { SpanStatusCode, type Attributes, type Context, type Span, type SpanKind, type SpanOptions } from "@opentelemetry/api";
import type {
  ATTR_RPC_GRPC_STATUS_CODE,
  ATTR_RPC_METHOD,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  RPC_GRPC_STATUS_CODE_VALUE_OK,
  RPC_SYSTEM_VALUE_GRPC,
} from "@opentelemetry/semantic-conventions/incubating";
import { isTracing, startMeshSpan } from "./trace-context";

// The OpenTelemetry RPC conventions for gRPC, as tracing backends read them (Jaeger's service and operation
// lists, span-metrics dashboards). Most of them live in the package's "incubating" entry point, which upstream
// asks libraries not to load at run time (it may break in a minor release, and it is a megabyte of module):
// they are copied here, each typed as the package's own constant, so that a copy that drifts from
// @opentelemetry/semantic-conventions fails to compile.
export const RPC_SYSTEM: typeof ATTR_RPC_SYSTEM = "rpc.system";
export const RPC_SERVICE: typeof ATTR_RPC_SERVICE = "rpc.service";
export const RPC_METHOD: typeof ATTR_RPC_METHOD = "rpc.method";
export const RPC_GRPC_STATUS_CODE: typeof ATTR_RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code";
const GRPC: typeof RPC_SYSTEM_VALUE_GRPC = "grpc";
const OK: typeof RPC_GRPC_STATUS_CODE_VALUE_OK = 0;

/** Shared when nothing records spans: no options object per call. */
const UNRECORDED_OPTIONS: SpanOptions = Object.freeze({});

/**
 * The conventions' identity of a call of `method` (`package.Service/Method`, as the mesh names methods
 * everywhere): `rpc.system`, `rpc.service` (`package.Service`) and `rpc.method` (`Method`).
 */
export function rpcIdentity(method: string): Attributes {
  const slash = method.lastIndexOf("/");
  return { [RPC_SYSTEM]: GRPC, [RPC_SERVICE]: method.slice(0, slash), [RPC_METHOD]: method.slice(slash + 1) };
}

/**
 * Starts the span of one call of `method`, named after it as the conventions ask (`package.Service/Method`),
 * with its RPC identity and the mesh's own `recq.*` attributes. Builds nothing when no span is recorded.
 */
export function startRpcSpan(method: string, kind: SpanKind, parent: Context, attributes?: Attributes): Span {
  const options = isTracing() ? { kind, attributes: { ...rpcIdentity(method), ...attributes } } : UNRECORDED_OPTIONS;
  return startMeshSpan(method, options, parent);
}

/**
 * Records how the call ended — `rpc.grpc.status_code` on every call (0 when it succeeded), and an error status
 * with the failure's message when it did not — without ending the span.
 */
export function recordRpcOutcome(span: Span, failure?: { code: number; message: string }): void {
  if (failure === undefined) {
    span.setAttribute(RPC_GRPC_STATUS_CODE, OK);
    return;
  }
  span.setAttribute(RPC_GRPC_STATUS_CODE, failure.code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
}
