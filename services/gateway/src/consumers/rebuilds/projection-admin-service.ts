import { status, type Metadata, type Server } from "@grpc/grpc-js";
import { ProjectionAdminServiceService, type ProjectionRebuild, type ProjectionStatus } from "@recq-mesh/protocol/gen/recq/v1/projections";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { AdminCheck } from "../../security/admin-access";
import { unaryMethod } from "../../server/unary-method";

export const PROJECTION_ADMIN_SERVICE_NAME = "recq.v1.ProjectionAdminService";

/** What the admin service asks of the consumer hub. */
export interface ProjectionDirectory {
  requestRebuild(projection: string): ProjectionRebuild;
  projection(projection: string): ProjectionStatus | undefined;
  projections(): ProjectionStatus[];
}

/**
 * recq.v1.ProjectionAdminService: projections' progress, and rebuilding one into a new generation of its views
 * while queries read the current one (docs/components.md, "Rebuilding a projection"). In the simple mode callers
 * present the admin token (or, without one, the callers' token: security/admin-access.ts); with a security file, the
 * caller authorization checks each method like any other.
 */
export class ProjectionAdminService {
  constructor(
    private readonly directory: ProjectionDirectory,
    private readonly adminCheck: AdminCheck,
  ) {}

  register(server: Server): void {
    const admit = (call: { metadata: Metadata }) => this.adminCheck(call.metadata);
    server.addService(ProjectionAdminServiceService, {
      rebuildProjection: unaryMethod(ProjectionAdminServiceService.rebuildProjection.path, admit, (request: { projection: string }) => ({
        rebuild: this.directory.requestRebuild(requiredName(request.projection)),
      })),
      getProjection: unaryMethod(ProjectionAdminServiceService.getProjection.path, admit, (request: { projection: string }) => {
        const projection = requiredName(request.projection);
        const found = this.directory.projection(projection);
        if (found === undefined) throw new MeshError(status.NOT_FOUND, `projection ${projection} has no instance connected`, Reason.INVALID_REQUEST);
        return { projection: found };
      }),
      listProjections: unaryMethod(ProjectionAdminServiceService.listProjections.path, admit, () => ({ projections: this.directory.projections() })),
    });
  }
}

function requiredName(projection: string): string {
  if (projection === "") throw new MeshError(status.INVALID_ARGUMENT, "projection is required", Reason.INVALID_REQUEST);
  return projection;
}
