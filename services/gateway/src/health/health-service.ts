import * as grpc from "@grpc/grpc-js";
import {
  HealthCheckResponse_ServingStatus as ProtoStatus,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListResponse,
  type HealthServer,
} from "../../gen/grpc/health/v1/health";
import { HealthRegistry, type WatchedStatus } from "./health-registry";

export { HealthRegistry, OVERALL_HEALTH, type ServingStatus, type WatchedStatus } from "./health-registry";

export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";

/** List answers RESOURCE_EXHAUSTED above this many services, as grpc-go does, rather than an unbounded message. */
const MAX_LISTED_SERVICES = 100;

/** Serves grpc.health.v1.Health (Check, Watch, List) from the registry. */
export function addHealthService(server: grpc.Server, registry: HealthRegistry): void {
  const implementation: HealthServer = {
    check: (call, callback) => check(registry, call.request, callback),
    watch: (call) => watch(registry, call),
    list: (_call, callback) => list(registry, callback),
  };
  server.addService(HealthService, implementation);
}

function check(registry: HealthRegistry, request: HealthCheckRequest, callback: grpc.sendUnaryData<HealthCheckResponse>): void {
  const status = registry.status(request.service);
  if (status === undefined) {
    callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${request.service}"` });
  } else {
    callback(null, { status: toProto(status) });
  }
}

/** The current status at once, then each change, until the client cancels (or the server shuts down). */
function watch(registry: HealthRegistry, call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void {
  const stop = registry.watch(call.request.service, (status) => {
    if (!call.cancelled) call.write({ status: toProto(status) });
  });
  call.once("cancelled", stop);
  call.once("close", stop);
}

function list(registry: HealthRegistry, callback: grpc.sendUnaryData<HealthListResponse>): void {
  const snapshot = registry.snapshot();
  if (snapshot.size > MAX_LISTED_SERVICES) {
    callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: `${snapshot.size} services: more than ${MAX_LISTED_SERVICES} to list` });
    return;
  }
  const statuses: HealthListResponse["statuses"] = {};
  for (const [service, status] of snapshot) statuses[service] = { status: toProto(status) };
  callback(null, { statuses });
}

function toProto(status: WatchedStatus): ProtoStatus {
  switch (status) {
    case "SERVING":
      return ProtoStatus.SERVING;
    case "NOT_SERVING":
      return ProtoStatus.NOT_SERVING;
    case "SERVICE_UNKNOWN":
      return ProtoStatus.SERVICE_UNKNOWN;
  }
}
