import type { AcceptedCommand } from "./accepted-command";

/**
 * The port for accepted commands: the durable inbox between acceptance and execution. Adapters:
 * `embedded-command-inbox.ts` (a journal file of its own in the data folder) and `mongo-command-inbox.ts` (a
 * collection beside the event store's). One contract suite (test/accepted/command-inbox.suite.ts) runs against each.
 *
 * A port of its own rather than more methods on EventStore: an inbox entry lives from acceptance to settlement and
 * is then deleted (the event journal only grows; the inbox is compacted), it is written on a path of its own (the
 * acceptance, not the command's append), and the exactly-once guarantee does not need both in one write — the
 * outcome recorded with the events is what stops a second execution (docs/async-flows.md, "Crash windows").
 */
export interface CommandInbox {
  /**
   * Records `command` durably. "present" when the inbox already holds its command id (nothing is written: a
   * repeat is not recorded twice).
   */
  add(command: AcceptedCommand): Promise<"added" | "present">;
  /**
   * Commands this gateway is now to execute that it was not handed before, in acceptance order: on open, what a
   * previous run left; with a shared database, also what a gateway that stopped renewing its lease left.
   */
  claim(): Promise<AcceptedCommand[]>;
  /** The command reached its final outcome (recorded in the event store): the inbox forgets it. Idempotent. */
  settle(commandId: string): Promise<void>;
  close(): Promise<void>;
}
