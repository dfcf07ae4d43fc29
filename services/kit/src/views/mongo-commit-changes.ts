import type { Binary, ResumeToken } from "mongodb";
import { CHECKPOINTS_COLLECTION } from "./mongo-view-documents";
import type { ViewChange } from "./view-store";

/** The fields of a change event that matter here; a `$project` stage drops the rest on the server. */
export interface FeedEvent {
  _id: ResumeToken;
  operationType: string;
  ns?: { db: string; coll?: string };
  documentKey?: { _id?: unknown };
  /** With `txnNumber`, present on every event of a multi-document transaction: together they name it. */
  lsid?: { id?: Binary };
  txnNumber?: unknown;
  fullDocument?: { position?: unknown };
}

/** How many recent commits are remembered. */
const REMEMBERED_COMMITS = 256;

/**
 * Tells which commit each change of a view collection belongs to. A change event does not carry the commit's
 * position, but every commit of the MongoDB view store is one transaction that replaces the consumer's checkpoint
 * and writes the views, and every event of a transaction carries its session id and transaction number. So the
 * checkpoint's event gives the position to the view events of the same transaction. On a replica set it comes
 * first (the commit writes it first, and a transaction's events come in operation order); where it may come
 * later (a transaction across shards), the view events wait for it. Writes made outside a commit have no
 * checkpoint and make no change; a document written twice in one commit is one change, as in the embedded store.
 */
export class CommitChanges {
  private readonly commits = new Map<string, Commit>();

  constructor(private readonly collection: string) {}

  /** The view changes `event` makes known: none, one, or those that waited for this checkpoint. */
  changesOf(event: FeedEvent): ViewChange[] {
    const transaction = transactionOf(event);
    if (transaction === undefined) return [];
    const commit = this.commitOf(transaction);
    if (event.ns?.coll === CHECKPOINTS_COLLECTION) {
      const position = event.fullDocument?.position;
      if (typeof position !== "number" || commit.position !== undefined) return [];
      commit.position = position;
      const waiting = commit.waiting;
      commit.waiting = [];
      return waiting.map((id) => ({ collection: this.collection, id, position }));
    }
    const id = event.documentKey?._id;
    if (event.ns?.coll !== this.collection || typeof id !== "string" || commit.ids.has(id)) return [];
    commit.ids.add(id);
    if (commit.position === undefined) {
      commit.waiting.push(id);
      return [];
    }
    return [{ collection: this.collection, id, position: commit.position }];
  }

  private commitOf(transaction: string): Commit {
    let commit = this.commits.get(transaction);
    if (commit === undefined) {
      commit = { position: undefined, ids: new Set(), waiting: [] };
      this.commits.set(transaction, commit);
      if (this.commits.size > REMEMBERED_COMMITS) {
        const oldest = this.commits.keys().next();
        if (oldest.done !== true) this.commits.delete(oldest.value);
      }
    }
    return commit;
  }
}

interface Commit {
  /** The checkpoint position, once its event was seen. */
  position: number | undefined;
  /** Documents already reported (or waiting), so that each is one change. */
  ids: Set<string>;
  /** Documents changed before the checkpoint's event was seen. */
  waiting: string[];
}

/** Session id and transaction number of an event that belongs to a transaction. */
function transactionOf(event: FeedEvent): string | undefined {
  const session = event.lsid?.id;
  if (session === undefined || event.txnNumber === undefined || event.txnNumber === null) return undefined;
  return `${session.toString("hex")}:${String(event.txnNumber)}`;
}
