import { Binary } from "mongodb";
import type { AcceptedCommand } from "./accepted-command";

/** The inbox collection, in the event store's database. */
export const INBOX_COLLECTION = "acceptedCommands";

/**
 * One accepted command, `_id` its command id (so a repeat cannot be recorded twice: the insert fails with a
 * duplicate key). `order` is the acceptance order: increasing within a gateway process, roughly time across them.
 * `owner` is the gateway instance executing it while `leaseUntil` is in the future; `claim` names the claim that
 * handed it to its owner (null when the owner accepted it itself).
 */
export interface InboxDocument {
  _id: string;
  method: string;
  payload: Binary;
  headers: Record<string, string>;
  trace: Record<string, string>;
  replyTo: string | null;
  acceptedAt: Date;
  order: number;
  owner: string;
  leaseUntil: Date;
  claim: string | null;
}

export function inboxDocumentOf(command: AcceptedCommand, order: number, owner: string, leaseUntil: Date): InboxDocument {
  return {
    _id: command.commandId,
    method: command.method,
    payload: new Binary(command.payload),
    headers: command.headers,
    trace: command.trace,
    replyTo: command.replyTo ?? null,
    acceptedAt: new Date(command.acceptedAtMs),
    order,
    owner,
    leaseUntil,
    claim: null,
  };
}

export function acceptedCommandOf(document: InboxDocument): AcceptedCommand {
  // The store's database handle sets promoteBuffers, so the payload may come back as a Buffer already.
  const payload: unknown = document.payload;
  return {
    commandId: document._id,
    method: document.method,
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from((payload as Binary).buffer),
    headers: document.headers ?? {},
    trace: document.trace ?? {},
    replyTo: document.replyTo ?? undefined,
    acceptedAtMs: document.acceptedAt.getTime(),
  };
}

/**
 * The next acceptance order after `last`: the time in microseconds, or one more than the last if the clock has not
 * moved (or went back), so that it always increases within a process.
 */
export function nextOrder(last: number, nowMs: number): number {
  return Math.max(nowMs * 1000, last + 1);
}

/**
 * Whether an inbox document that an `add` of `owner` met as a duplicate key is that owner's own acceptance, by
 * its fields: written by `owner`, and never claimed since (a claim, this gateway's or another's, sets `claim`).
 * The inbox asks only for command ids it neither recorded nor was handed in this run.
 */
export function writtenUnheard(existing: Pick<InboxDocument, "owner" | "claim">, owner: string): boolean {
  return existing.owner === owner && existing.claim === null;
}

/**
 * The commands `owner` holds by a claim (a takeover, a previous run's, or its own acceptance stored unheard), as a
 * claim reads them. `claim` is a range here ($ne: null), so it comes after `order` in the index owner_order_claim:
 * owner equal, then order, gives the acceptance order without a sort, and `claim` is tested on the index keys.
 */
export function ownedByClaimFilter(owner: string): { owner: string; claim: { $ne: null } } {
  return { owner, claim: { $ne: null } };
}

/** `documents` (an `$in` query's answer, in no particular order) in the order of `ids`; ids not found are left out. */
export function inIdOrder<T extends { _id: string }>(ids: readonly string[], documents: readonly T[]): T[] {
  const byId = new Map(documents.map((document) => [document._id, document]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
