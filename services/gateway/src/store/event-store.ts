/**
 * The event store port: the System State Store's events, snapshots and command outcomes.
 * Adapters: `embedded-event-store.ts` (journal on disk) and `mongo-event-store.ts` (MongoDB replica set);
 * `open-event-store.ts` picks one (MongoDB when `MONGODB_URI` is set). One contract suite runs against each.
 */

/** An event a command handler decided, before it is stored. */
export interface NewEventRecord {
  /** Full protobuf name of the payload's message. */
  type: string;
  payload: Buffer;
  metadata: Record<string, string>;
}

/** An event as stored, with its place in the global order and in its aggregate's stream. */
export interface StoredEvent {
  /** Dense global position, from 1, in commit order: a reader that follows it never skips an event. */
  position: number;
  aggregateType: string;
  aggregateId: string;
  /** Position in the aggregate's stream, from 1. */
  sequence: number;
  type: string;
  payload: Buffer;
  /** Milliseconds since the epoch, when the event was appended. */
  timeMs: number;
  commandId: string;
  metadata: Record<string, string>;
}

export interface SnapshotRecord {
  /** The aggregate sequence the snapshot includes. */
  sequence: number;
  type: string;
  payload: Buffer;
}

export interface AppendRequest {
  aggregateType: string;
  /**
   * Empty for a command without a routing key that emitted nothing: then `events` must be empty and only the outcome
   * is recorded. A service command's events (no routing key) are appended under its command id, expected sequence 0
   * (commands/service-stream.ts).
   */
  aggregateId: string;
  /** The aggregate's sequence the handler decided on; the append fails with a conflict if it moved. */
  expectedSequence: number;
  commandId: string;
  events: NewEventRecord[];
  /** Optional folded state at `expectedSequence + events.length`. */
  snapshot?: SnapshotRecord;
}

/** The ack of a successful command, as recorded for deduplication. */
export interface CommandAckRecord {
  commandId: string;
  /** Position of the last event appended, or the store's head when none was (0 on an empty store). */
  position: number;
  /** The aggregate's sequence after the command; 0 without an aggregate. */
  sequence: number;
}

export type AppendResult =
  | { kind: "appended"; ack: CommandAckRecord; events: StoredEvent[] }
  | { kind: "conflict"; actualSequence: number };

export interface CommandFailureRecord {
  commandId: string;
  code: number;
  message: string;
  reason: string;
}

export type CommandOutcome = ({ kind: "succeeded" } & CommandAckRecord) | ({ kind: "failed" } & CommandFailureRecord);

export interface AggregateHistory {
  snapshot?: SnapshotRecord;
  /** The events after the snapshot (all of them without one), in sequence order. */
  events: StoredEvent[];
  /** The aggregate's current sequence (0 if it has no events). */
  sequence: number;
}

export interface EventStore {
  /**
   * Appends the events of one command atomically, all or none, checking `expectedSequence`, and records the
   * command's success outcome in the same write. Resolves only once the write is durable.
   */
  append(request: AppendRequest): Promise<AppendResult>;
  /** The latest snapshot and the events after it. */
  readAggregate(aggregateType: string, aggregateId: string): Promise<AggregateHistory>;
  /** Events with position > `afterPosition`, in order, at most `limit`. */
  readAll(afterPosition: number, limit: number): Promise<StoredEvent[]>;
  /** Position of the last committed event (0 when empty). */
  headPosition(): Promise<number>;
  /** Calls `listener` after each durable append, with the new head position. Returns the unsubscribe. */
  onAppended(listener: (headPosition: number) => void): () => void;
  /** The recorded outcome of a command id, while it is within the retention window. */
  findOutcome(commandId: string): Promise<CommandOutcome | undefined>;
  /** Records a command's failure (a domain rule, a conflict after retries), so a repeat gets the same answer. */
  recordFailure(failure: CommandFailureRecord): Promise<void>;
  close(): Promise<void>;
}

/**
 * An append no store state could accept: a limit passed or a broken shape. It is the fault of what the
 * handler decided, not of the store, so retrying cannot help; every adapter throws this for such appends.
 */
export class AppendRejectedError extends Error {
  override readonly name = "AppendRejectedError";
}
