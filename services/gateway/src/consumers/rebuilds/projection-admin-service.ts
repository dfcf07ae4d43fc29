import { status, type Metadata, type Server, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import { ProjectionAdminServiceService, type ProjectionRebuild, type ProjectionStatus } from "@recq-mesh/protocol/gen/recq/v1/projections";
import { MeshError, Reason, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import { checkCredentials } from "../../links/credentials";
import { callerTraceContext, firstValue } from "../../server/caller-trace-context";

export const PROJECTION_ADMIN_SERVICE_NAME = "recq.v1.ProjectionAdminService";

/** What the admin service asks of the consumer hub. */
export interface ProjectionDirectory {
  requestRebuild(projection: string): ProjectionRebuild;
  projection(projection: string): ProjectionStatus | undefined;
  projections(): ProjectionStatus[];
}

/**
 * recq.v1.ProjectionAdminService: projections' progress, and rebuilding one into a new generation of its views
 * while queries read the current one (docs/components.md, "Rebuilding a projection"). Callers present the client
 * token as for domain calls; with a security file, the caller authorization checks each method like any other.
 */
export class ProjectionAdminService {
  constructor(
    private readonly directory: ProjectionDirectory,
    private readonly clientToken: string | undefined,
  ) {}

  register(server: Server): void {
    server.addService(ProjectionAdminServiceService, {
      rebuildProjection: this.unary(ProjectionAdminServiceService.rebuildProjection.path, (request: { projection: string }) => ({
        rebuild: this.directory.requestRebuild(requiredName(request.projection)),
      })),
      getProjection: this.unary(ProjectionAdminServiceService.getProjection.path, (request: { projection: string }) => {
        const projection = requiredName(request.projection);
        const found = this.directory.projection(projection);
        if (found === undefined) throw new MeshError(status.NOT_FOUND, `projection ${projection} has no instance connected`, Reason.INVALID_REQUEST);
        return { projection: found };
      }),
      listProjections: this.unary(ProjectionAdminServiceService.listProjections.path, () => ({ projections: this.directory.projections() })),
    });
  }

  /** A unary method: admitted, traced, and any failure answered as its gRPC status. */
  private unary<Req, Res>(path: string, answer: (request: Req) => Res) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const span = startRpcSpan(path.slice(1), SpanKind.SERVER, callerTraceContext(call.metadata));
      try {
        this.admit(call.metadata);
        const response = answer(call.request);
        recordRpcOutcome(span);
        callback(null, response);
      } catch (thrown) {
        const error = MeshError.from(thrown);
        recordRpcOutcome(span, error);
        callback(error.toStatus());
      } finally {
        span.end();
      }
    };
  }

  private admit(metadata: Metadata): void {
    if (!this.clientToken) return;
    const header = firstValue(metadata, "authorization");
    checkCredentials(this.clientToken, header?.startsWith("Bearer ") ? header.slice(7) : header);
  }
}

function requiredName(projection: string): string {
  if (projection === "") throw new MeshError(status.INVALID_ARGUMENT, "projection is required", Reason.INVALID_REQUEST);
  return projection;
}
