import { status, type Server, type ServerUnaryCall } from "@grpc/grpc-js";
import {
  SagaStateServiceService,
  type LoadSagaStateRequest,
  type LoadSagaStateResponse,
  type RecordSagaStepRequest,
  type RecordSagaStepResponse,
} from "@recq-mesh/protocol/gen/recq/v1/sagas";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { checkCredentials } from "../links/credentials";
import type { ComponentAuthorization } from "../security/component-authorization";
import { unaryMethod } from "../server/unary-method";
import type { SagaStates } from "./saga-states";

export const SAGA_STATE_SERVICE_NAME = "recq.v1.SagaStateService";

export interface SagaStateServiceOptions {
  /** The shared link token (simple mode), presented in each request's `credentials`. */
  linkToken: string | undefined;
  /** Components' identities and grants (the security file): a saga's state is its consumer's, granted by `consumers`. */
  components?: ComponentAuthorization;
}

/**
 * recq.v1.SagaStateService: saga handlers' state, for components only. A component may read and write the state
 * of a saga exactly when it may consume under the saga's name (ConsumerOpen), since that is the stream it steps on.
 */
export class SagaStateService {
  constructor(
    private readonly states: SagaStates,
    private readonly options: SagaStateServiceOptions,
  ) {}

  register(server: Server): void {
    server.addService(SagaStateServiceService, {
      loadSagaState: unaryMethod(
        SagaStateServiceService.loadSagaState.path,
        (call: ServerUnaryCall<LoadSagaStateRequest, LoadSagaStateResponse>) => this.authorize(call, call.request.saga, call.request.credentials),
        (request) => this.states.load(request.saga, request.association),
      ),
      recordSagaStep: unaryMethod(
        SagaStateServiceService.recordSagaStep.path,
        (call: ServerUnaryCall<RecordSagaStepRequest, RecordSagaStepResponse>) => this.authorize(call, call.request.saga, call.request.credentials),
        (request) => this.record(request),
      ),
    });
  }

  private async record(request: RecordSagaStepRequest): Promise<RecordSagaStepResponse> {
    const version = await this.states.record({
      saga: request.saga,
      association: request.association,
      expectedVersion: Number(request.expectedVersion),
      position: Number(request.position),
      state: request.state ?? { type: "", payload: Buffer.alloc(0) },
      ended: request.ended,
    });
    return { version: String(version) };
  }

  private authorize(call: ServerUnaryCall<unknown, unknown>, saga: string, credentials: string): void {
    if (this.options.components === undefined) {
      checkCredentials(this.options.linkToken, credentials);
      return;
    }
    const component = this.options.components.identify(undefined, credentials, call.getAuthContext());
    if (!component.mayConsume(saga)) {
      throw new MeshError(status.PERMISSION_DENIED, `component ${component.name} is not granted the saga ${saga} (its consumers)`, Reason.PERMISSION_DENIED);
    }
  }
}
