import { status } from "@grpc/grpc-js";
import { MeshError, reservedCommandId } from "@recq-mesh/protocol";
import type { EventMeta, MethodDefinitionLike, RequestOf, ResponseOf } from "../handlers/definitions";
import type { CallOptions } from "../mesh-service";
import type { SagaContext, SagaSendOptions } from "./saga-definition";

/** How a saga's commands leave: the service's own link (MeshService.call). */
export type SagaSender = <M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: CallOptions) => Promise<ResponseOf<M>>;

/** Refusals that answer the same every time: a step may compensate for them. */
const DOMAIN_CODES = new Set<number>([status.FAILED_PRECONDITION, status.NOT_FOUND, status.ALREADY_EXISTS, status.OUT_OF_RANGE, status.INVALID_ARGUMENT]);

/** The context of one saga step: deterministic command ids, and the step's end flag and transient failures. */
export class SagaStepContext implements SagaContext {
  ended = false;
  private sends = 0;
  /** A failure the step must not absorb (the handler may have caught it): it fails the step. */
  private transient: MeshError | undefined;

  constructor(
    private readonly saga: string,
    readonly association: string,
    readonly meta: EventMeta,
    private readonly sender: SagaSender,
  ) {}

  async send<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: SagaSendOptions = {}): Promise<ResponseOf<M>> {
    // In the components' reserved namespace (no caller can take it first), within the command id limit however
    // long the saga's name and association value are.
    const commandId = reservedCommandId("saga", [this.saga, this.association], [this.meta.position, ++this.sends]);
    // After a failure the step cannot absorb, nothing more goes out: a compensation sent for a lost link would
    // run for good, while the step (and its first send) runs again.
    if (this.transient !== undefined) throw this.transient;
    try {
      return await this.sender(method, request, { ...options, commandId });
    } catch (thrown) {
      const error = MeshError.from(thrown);
      if (!DOMAIN_CODES.has(error.code)) this.transient ??= error;
      throw error;
    }
  }

  end(): void {
    this.ended = true;
  }

  /** Throws the first non-domain failure of a send, if any: the step is then not recorded. */
  throwIfTransient(): void {
    if (this.transient !== undefined) throw this.transient;
  }
}
