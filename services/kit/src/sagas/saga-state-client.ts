import { Metadata, type ChannelCredentials, type ChannelOptions, type ServiceError } from "@grpc/grpc-js";
import { SagaStateServiceClient, type LoadSagaStateResponse, type SagaState } from "@recq-mesh/protocol/gen/recq/v1/sagas";
import { MeshError } from "@recq-mesh/protocol";
import { currentToken, type LinkSecurity } from "../link/link-security";

/** How long one state call may take before the step fails (and is tried again from the checkpoint). */
const STATE_CALL_TIMEOUT_MS = 10_000;

export interface SagaStateClientOptions {
  address: string;
  credentials?: LinkSecurity["credentials"];
  channelCredentials: ChannelCredentials;
  channelOptions: ChannelOptions;
}

export interface LoadedSagaState {
  exists: boolean;
  version: number;
  state: SagaState | undefined;
  ended: boolean;
  lastPosition: number;
}

/** recq.v1.SagaStateService as a saga handler calls it, with the service's link credentials. */
export class SagaStateClient {
  private readonly client: SagaStateServiceClient;

  constructor(private readonly options: SagaStateClientOptions) {
    this.client = new SagaStateServiceClient(options.address, options.channelCredentials, options.channelOptions);
  }

  async load(saga: string, association: string): Promise<LoadedSagaState> {
    const answer = await new Promise<LoadSagaStateResponse>((resolve, reject) =>
      this.client.loadSagaState({ saga, association, credentials: this.token() }, new Metadata(), this.callOptions(), settle(resolve, reject)),
    );
    return {
      exists: answer.exists,
      version: Number(answer.version),
      state: answer.state,
      ended: answer.ended,
      lastPosition: Number(answer.lastPosition),
    };
  }

  async record(step: { saga: string; association: string; expectedVersion: number; position: number; state: SagaState; ended: boolean }): Promise<number> {
    const answer = await new Promise<{ version: string }>((resolve, reject) =>
      this.client.recordSagaStep(
        {
          saga: step.saga,
          association: step.association,
          expectedVersion: String(step.expectedVersion),
          position: String(step.position),
          state: step.state,
          ended: step.ended,
          credentials: this.token(),
        },
        new Metadata(),
        this.callOptions(),
        settle(resolve, reject),
      ),
    );
    return Number(answer.version);
  }

  close(): void {
    this.client.close();
  }

  private token(): string {
    return currentToken(this.options.credentials);
  }

  private callOptions() {
    return { deadline: Date.now() + STATE_CALL_TIMEOUT_MS };
  }
}

function settle<T>(resolve: (value: T) => void, reject: (error: MeshError) => void) {
  return (error: ServiceError | null, answer: T) => (error ? reject(MeshError.from(error)) : resolve(answer));
}
