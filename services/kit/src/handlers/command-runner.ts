import { status } from "@grpc/grpc-js";
import type { Snapshot } from "@recq-mesh/protocol/gen/recq/v1/event";
import type { Dispatch, NewEvent } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Reason, Attribute } from "@recq-mesh/protocol";
import type { DispatchRunner } from "../link/link-client";
import type { AggregateStateCache } from "./aggregate-state-cache";
import type { AggregateDefinition, Codec, CommandContext, DomainEvent, EventCodecs, ServiceDefinitionLike } from "./definitions";
import { decodeRequest, failureOf, tracedRun } from "./traced-run";
import { callerOf } from "./caller";

/**
 * Runs one command method of an aggregate: fold the shipped snapshot and history with `evolve`, `decide`,
 * encode the new events (and a snapshot when one is due) as the reply.
 */
export function commandRunner<D extends ServiceDefinitionLike, S, C extends EventCodecs>(
  definition: AggregateDefinition<D, S, C>,
  method: keyof D & string,
  cache?: AggregateStateCache<S>,
): DispatchRunner {
  const decide = definition.decide[method] as (command: unknown, state: S, context: CommandContext) => DomainEvent<C>[] | Promise<DomainEvent<C>[]>;
  const { requestDeserialize } = definition.service[method]!;
  return (dispatch, metadata, reply, cancellation) => {
    const attributes = { [Attribute.COMMAND_ID]: dispatch.commandId, [Attribute.AGGREGATE_ID]: dispatch.aggregateId };
    tracedRun(dispatch.method, metadata, attributes, async () => {
      const command = decodeRequest(requestDeserialize, dispatch.payload, dispatch.method);
      const { state, sequence } = fold(definition, dispatch, cache);
      const context = commandContext(dispatch, sequence, cancellation);
      return commandOutcome(definition, state, sequence, await decide(command, state, context));
    }).then(
      (outcome) => reply({ $case: "command", value: outcome }),
      (thrown) => reply(failureOf(thrown)),
    );
  };
}

/** What a command's decider is told: the dispatch's id, aggregate, sequence and headers; the caller and signal when read. */
export function commandContext(dispatch: Dispatch, sequence: number, cancellation: { readonly signal: AbortSignal }): CommandContext {
  return {
    commandId: dispatch.commandId,
    aggregateId: dispatch.aggregateId,
    sequence,
    headers: dispatch.headers,
    get caller() {
      return callerOf(dispatch.headers);
    },
    // A getter: the signal is made only if decide reads it.
    get signal() {
      return cancellation.signal;
    },
  };
}

/** The reply of a command that decided `events`: them encoded, and a snapshot when one is due. */
export function commandOutcome<S, C extends EventCodecs>(
  definition: AggregateDefinition<ServiceDefinitionLike, S, C>,
  state: S,
  sequence: number,
  events: DomainEvent<C>[],
): { events: NewEvent[]; snapshot: Snapshot | undefined } {
  return { events: events.map((event) => encodeEvent(definition.events, event)), snapshot: snapshotAfter(definition, state, sequence, events) };
}

export function fold<S, C extends EventCodecs>(
  definition: AggregateDefinition<ServiceDefinitionLike, S, C>,
  dispatch: Dispatch,
  cache: AggregateStateCache<S> | undefined,
): { state: S; sequence: number } {
  const { snapshot, history } = dispatch;
  const start = cache?.startFor(dispatch.aggregateId, history) ?? {
    state: snapshot && definition.snapshot ? definition.snapshot.codec.decode(snapshot.payload) : definition.initialState(),
    sequence: snapshot ? Number(snapshot.sequence) : 0,
    nextIndex: 0,
    bytes: snapshot?.payload.length ?? 0,
  };
  let { state, sequence, bytes } = start;
  for (let index = start.nextIndex; index < history.length; index++) {
    const envelope = history[index]!;
    state = definition.evolve(state, decodeEvent(definition.events, envelope.type, envelope.payload));
    sequence = Number(envelope.sequence);
    bytes += envelope.payload.length;
  }
  cache?.remember(dispatch.aggregateId, history, state, bytes);
  return { state, sequence };
}

export function decodeEvent<C extends EventCodecs>(codecs: C, type: string, payload: Uint8Array): DomainEvent<C> {
  const codec = codecs[type] as Codec<unknown> | undefined;
  if (codec === undefined) {
    throw new MeshError(status.INTERNAL, `no codec for event type ${type}: add it to the aggregate's events`, Reason.INTERNAL);
  }
  return { type, data: codec.decode(payload) } as DomainEvent<C>;
}

export function encodeEvent<C extends EventCodecs>(codecs: C, event: DomainEvent<C>): NewEvent {
  const codec = codecs[event.type] as Codec<unknown> | undefined;
  if (codec === undefined) throw new MeshError(status.INTERNAL, `decide returned event type ${event.type}, which has no codec`, Reason.INTERNAL);
  return { type: event.type, payload: Buffer.from(codec.encode(event.data).finish()), metadata: {} };
}

/** A snapshot of the state after the new events, when they cross a multiple of `snapshot.every`. */
export function snapshotAfter<S, C extends EventCodecs>(
  definition: AggregateDefinition<ServiceDefinitionLike, S, C>,
  state: S,
  sequence: number,
  events: DomainEvent<C>[],
): Snapshot | undefined {
  const policy = definition.snapshot;
  if (policy === undefined || events.length === 0) return undefined;
  const after = sequence + events.length;
  if (Math.floor(after / policy.every) === Math.floor(sequence / policy.every)) return undefined;
  const folded = events.reduce((s, e) => definition.evolve(s, e), state);
  return { sequence: String(after), type: policy.type, payload: Buffer.from(policy.codec.encode(folded).finish()) };
}
