import { status } from "@grpc/grpc-js";
import { MeshError, Reason, Attribute } from "@recq-mesh/protocol";
import type { BlobStore } from "../blobs/blob-store";
import type { DispatchRunner } from "../link/link-client";
import type { AggregateStateCache } from "./aggregate-state-cache";
import { commandContext, commandOutcome, fold } from "./command-runner";
import type { AggregateDefinition, DomainEvent, EventCodecs, ServiceDefinitionLike, UploadContext } from "./definitions";
import { decodeRequest, failureOf, tracedRun } from "./traced-run";

type UploadDecider<S, C extends EventCodecs> = (first: unknown, rest: AsyncIterable<unknown>, state: S, context: UploadContext) => Promise<DomainEvent<C>[]>;

/**
 * Runs one upload method of an aggregate (a client-streaming command): fold the history like any command, then
 * `decide(first, rest, state, context)` while the content streams in. The reply — the events, appended by the
 * gateway with the others of the aggregate, in order — goes only if the upload was not cut off meanwhile.
 */
export function uploadRunner<D extends ServiceDefinitionLike, S, C extends EventCodecs>(
  definition: AggregateDefinition<D, S, C>,
  method: keyof D & string,
  blobs: BlobStore | undefined,
  cache?: AggregateStateCache<S>,
): DispatchRunner {
  const decide = definition.decide[method] as unknown as UploadDecider<S, C>;
  const { requestDeserialize } = definition.service[method]!;
  return (dispatch, metadata, reply, cancellation, streams) => {
    const attributes = { [Attribute.COMMAND_ID]: dispatch.commandId, [Attribute.AGGREGATE_ID]: dispatch.aggregateId };
    tracedRun(dispatch.method, metadata, attributes, async () => {
      const chunks = streams?.requestChunks;
      if (chunks === undefined) {
        throw new MeshError(status.INTERNAL, `${dispatch.method} is an upload, but its dispatch has no request stream`, Reason.PROTOCOL_VIOLATION);
      }
      if (blobs === undefined) throw new MeshError(status.FAILED_PRECONDITION, `${dispatch.method} is an upload and this service has no blob store (MeshServiceOptions.blobs)`);
      const first = decodeRequest(requestDeserialize, dispatch.payload, dispatch.method);
      const { state, sequence } = fold(definition, dispatch, cache);
      // The blobs are added to the command context, whose getters (caller, signal) stay getters.
      const context: UploadContext = Object.assign(commandContext(dispatch, sequence, cancellation), { blobs });
      const events = await decide(first, decoded(chunks, requestDeserialize, dispatch.method), state, context);
      // Cut off after decide's last read: the caller is gone, and no event may be appended for it.
      if (cancellation.signal.aborted) throw cancellation.signal.reason;
      return commandOutcome(definition, state, sequence, events);
    }).then(
      (outcome) => reply({ $case: "command", value: outcome }),
      (thrown) => reply(failureOf(thrown)),
    );
  };
}

async function* decoded(chunks: AsyncIterable<Buffer>, decode: (payload: Buffer) => unknown, method: string): AsyncIterable<unknown> {
  for await (const chunk of chunks) yield decodeRequest(decode, chunk, method);
}
