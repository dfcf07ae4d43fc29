import { status, type Server, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import {
  SagaStateServiceService,
  type LoadSagaStateRequest,
  type LoadSagaStateResponse,
  type RecordSagaStepRequest,
  type RecordSagaStepResponse,
} from "@recq-mesh/protocol/gen/recq/v1/sagas";
import { MeshError, Reason, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import { checkCredentials } from "../links/credentials";
import type { ComponentAuthorization } from "../security/component-authorization";
import { callerTraceContext } from "../server/caller-trace-context";
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
    server.addService(SagaStateServiceService, { loadSagaState: this.loadSagaState, recordSagaStep: this.recordSagaStep });
  }

  private readonly loadSagaState = (call: ServerUnaryCall<LoadSagaStateRequest, LoadSagaStateResponse>, callback: sendUnaryData<LoadSagaStateResponse>): void => {
    const { saga, association, credentials } = call.request;
    this.answer(call, SagaStateServiceService.loadSagaState.path, callback, () => {
      this.authorize(call, saga, credentials);
      return this.states.load(saga, association);
    });
  };

  private readonly recordSagaStep = (call: ServerUnaryCall<RecordSagaStepRequest, RecordSagaStepResponse>, callback: sendUnaryData<RecordSagaStepResponse>): void => {
    const request = call.request;
    this.answer(call, SagaStateServiceService.recordSagaStep.path, callback, async () => {
      this.authorize(call, request.saga, request.credentials);
      const version = await this.states.record({
        saga: request.saga,
        association: request.association,
        expectedVersion: Number(request.expectedVersion),
        position: Number(request.position),
        state: request.state ?? { type: "", payload: Buffer.alloc(0) },
        ended: request.ended,
      });
      return { version: String(version) };
    });
  };

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

  private answer<T>(call: ServerUnaryCall<unknown, unknown>, path: string, callback: sendUnaryData<T>, work: () => Promise<T>): void {
    const span = startRpcSpan(path.slice(1), SpanKind.SERVER, callerTraceContext(call.metadata));
    let answer: Promise<T>;
    try {
      answer = work();
    } catch (thrown) {
      answer = Promise.reject(thrown);
    }
    answer.then(
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
  }
}
