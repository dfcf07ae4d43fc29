import type { CommandOutcome } from "./event-store";
import type { JournalRecord } from "./journal-record";

/** The outcome a journal record stands for. */
export function outcomeOf(record: JournalRecord): CommandOutcome {
  if (record.kind === "failure") return { kind: "failed", ...record.failure };
  return { kind: "succeeded", commandId: record.commandId, position: record.position, sequence: record.sequence };
}

interface RecordedOutcome {
  outcome: CommandOutcome;
  recordedAtMs: number;
}

/**
 * Command outcomes by command id, each for `retentionMs` after it was recorded. Entries stay in recording order
 * (a re-recorded id moves to the end), so pruning stops at the first entry still within retention.
 */
export class OutcomeRegistry {
  private readonly outcomes = new Map<string, RecordedOutcome>();

  constructor(private readonly retentionMs: number) {}

  get size(): number {
    return this.outcomes.size;
  }

  record(outcome: CommandOutcome, recordedAtMs: number, nowMs: number): void {
    this.outcomes.delete(outcome.commandId);
    if (this.isExpired(recordedAtMs, nowMs)) return;
    this.outcomes.set(outcome.commandId, { outcome, recordedAtMs });
  }

  find(commandId: string, nowMs: number): CommandOutcome | undefined {
    const recorded = this.outcomes.get(commandId);
    if (recorded === undefined || this.isExpired(recorded.recordedAtMs, nowMs)) return undefined;
    return recorded.outcome;
  }

  /** Forgets expired outcomes; returns how many. */
  prune(nowMs: number): number {
    let pruned = 0;
    for (const [commandId, recorded] of this.outcomes) {
      if (!this.isExpired(recorded.recordedAtMs, nowMs)) break;
      this.outcomes.delete(commandId);
      pruned += 1;
    }
    return pruned;
  }

  private isExpired(recordedAtMs: number, nowMs: number): boolean {
    return nowMs - recordedAtMs >= this.retentionMs;
  }
}
