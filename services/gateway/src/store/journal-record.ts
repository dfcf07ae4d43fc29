import type { CommandFailureRecord, NewEventRecord, SnapshotRecord } from "./event-store";

/**
 * What one journal record says. A record is the unit of atomicity: one command's events, its snapshot and its
 * success outcome are one record, so a crash keeps all of them or none.
 */
export type JournalRecord = CommitRecord | FailureRecord;

/** A command that succeeded: its events (possibly none), its optional snapshot, and its ack. */
export interface CommitRecord {
  kind: "commit";
  /** Milliseconds since the epoch, when the command was ordered; the events' `timeMs` and the outcome's age. */
  timeMs: number;
  commandId: string;
  aggregateType: string;
  /** Empty for a command without an aggregate: then `events` is empty and `sequence` is 0. */
  aggregateId: string;
  /** Position of the command's last event, or the head when it appended none. */
  position: number;
  /** The aggregate's sequence after the command. */
  sequence: number;
  events: readonly NewEventRecord[];
  snapshot: SnapshotRecord | undefined;
}

/** A command that failed, recorded so that a repeat of its id gets the same answer. */
export interface FailureRecord {
  kind: "failure";
  timeMs: number;
  failure: CommandFailureRecord;
}
