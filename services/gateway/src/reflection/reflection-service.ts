import * as grpc from "@grpc/grpc-js";
import {
  ServerReflectionService,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection";
import type { DescriptorCatalog } from "../descriptors/descriptor-catalog";
import { answerReflectionRequest, type ReflectionSources } from "./reflection-answers";
import { buildSymbolIndex } from "./symbol-index";

export const REFLECTION_V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection";
export const REFLECTION_V1ALPHA_SERVICE_NAME = "grpc.reflection.v1alpha.ServerReflection";

/**
 * v1alpha has the same messages on the wire as v1 under another package; older clients (grpcurl before 1.8.8,
 * many language tools) still speak only v1alpha. Same implementation, second path.
 */
export const ServerReflectionV1AlphaService = {
  serverReflectionInfo: {
    ...ServerReflectionService.serverReflectionInfo,
    path: `/${REFLECTION_V1ALPHA_SERVICE_NAME}/ServerReflectionInfo` as const,
  },
} as const;

type ReflectionCall = grpc.ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>;

/**
 * Serves gRPC server reflection (v1 and v1alpha) from the catalog's original file descriptors, so that strict
 * clients (grpcurl, protobuf descriptor pools) can build every served service. `servedServiceNames` is asked
 * at each list_services request, so services added or removed later are listed as they are.
 * Note: no descriptor of the v1alpha package is in the set; do not list REFLECTION_V1ALPHA_SERVICE_NAME.
 */
export function addReflectionService(server: grpc.Server, catalog: DescriptorCatalog, servedServiceNames: () => string[]): void {
  const sources: ReflectionSources = { catalog, symbols: buildSymbolIndex(catalog.registry), servedServiceNames };
  const serverReflectionInfo = (call: ReflectionCall): void => answerEachRequest(call, sources);
  server.addService(ServerReflectionService, { serverReflectionInfo });
  server.addService(ServerReflectionV1AlphaService, { serverReflectionInfo });
}

/** Answers requests in order, as many as the client sends; the stream ends when the client ends its side. */
function answerEachRequest(call: ReflectionCall, sources: ReflectionSources): void {
  let failed = false;
  call.on("data", (request: ServerReflectionRequest) => {
    if (call.cancelled || failed) return;
    try {
      call.write(answerReflectionRequest(request, sources));
    } catch (error: unknown) {
      // A bug here must fail this stream only, never the server: end it with a status.
      failed = true;
      const details = `reflection failed: ${error instanceof Error ? error.message : String(error)}`;
      call.emit("error", { code: grpc.status.INTERNAL, details });
    }
  });
  call.on("end", () => {
    if (!failed) call.end();
  });
}
