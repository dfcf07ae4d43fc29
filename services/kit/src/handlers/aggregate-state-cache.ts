import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";

/** A folded state and the stored event it was folded up to. */
interface FoldedState<S> {
  sequence: number;
  /** The event at `sequence`, as far as it tells one stored event from another with the same sequence. */
  position: string;
  commandId: string;
  type: string;
  state: S;
  /** What the state was folded from: its snapshot's and events' payload bytes (see `AggregateStateCache`). */
  bytes: number;
}

/** Where a fold may start: a state and the index of the first history event still to fold into it. */
export interface FoldStart<S> {
  state: S;
  sequence: number;
  nextIndex: number;
  /** Payload bytes the state was folded from so far. */
  bytes: number;
}

/**
 * States this handler process folded recently, by aggregate id, so that a busy aggregate's next command folds
 * only the events after them instead of its whole shipped history (decoding and folding history was a fifth
 * of a handler's CPU for aggregates a hundred events past their snapshot).
 *
 * An entry is used only when the dispatch's history holds the event it was folded up to: same sequence,
 * global position, command id and type (a store started afresh numbers positions from 1 again, so the
 * position alone would not tell). History this process never saw, or that starts after the entry (a newer
 * snapshot), is folded in full. Entries are made from stored history only, never from a decision that might
 * not be appended. The
 * aggregate's `evolve` and `decide` must leave the state they are given unchanged, which is why the cache is
 * opted into (`AggregateDefinition.stateCache`).
 *
 * Bounded by aggregates and, optionally, by bytes: the payload bytes (snapshot and events) each state was folded
 * from, which a state's memory follows closely enough (an aggregate's state is what its events said), so that many
 * small aggregates fit where a few large ones would not. Least recently used entries go first.
 */
export class AggregateStateCache<S> {
  /** In recency order, the least recently used first. */
  private readonly entries = new Map<string, FoldedState<S>>();
  private heldBytes = 0;

  constructor(
    private readonly maxAggregates: number,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Payload bytes the cached states were folded from, at most `maxBytes`. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** A cached state inside the shipped history, or undefined when there is none to trust. */
  startFor(aggregateId: string, history: EventEnvelope[]): FoldStart<S> | undefined {
    const cached = this.entries.get(aggregateId);
    if (cached === undefined || history.length === 0) return undefined;
    this.entries.delete(aggregateId);
    this.entries.set(aggregateId, cached);
    const firstSequence = Number(history[0]!.sequence);
    const index = cached.sequence - firstSequence;
    if (index < 0 || index >= history.length) return undefined;
    const envelope = history[index]!;
    const same =
      Number(envelope.sequence) === cached.sequence &&
      envelope.position === cached.position &&
      envelope.commandId === cached.commandId &&
      envelope.type === cached.type;
    if (!same) return undefined;
    return { state: cached.state, sequence: cached.sequence, nextIndex: index + 1, bytes: cached.bytes };
  }

  /** Keeps the state folded up to the last event of a shipped history, from `bytes` of payloads. */
  remember(aggregateId: string, history: EventEnvelope[], state: S, bytes: number): void {
    const last = history[history.length - 1];
    if (last === undefined) return;
    this.forget(aggregateId);
    if (bytes > this.maxBytes) return;
    this.entries.set(aggregateId, { sequence: Number(last.sequence), position: last.position, commandId: last.commandId, type: last.type, state, bytes });
    this.heldBytes += bytes;
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxAggregates && this.heldBytes <= this.maxBytes) break;
      this.forget(oldest);
    }
  }

  private forget(aggregateId: string): void {
    const entry = this.entries.get(aggregateId);
    if (entry === undefined) return;
    this.entries.delete(aggregateId);
    this.heldBytes -= entry.bytes;
  }
}
