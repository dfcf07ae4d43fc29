import { randomUUID } from "node:crypto";
import { ReadConcern, ReadPreference, type Collection, type MongoClient } from "mongodb";
import { isDuplicateKey, serverCode, ServerCode } from "@recq-mesh/protocol/mongodb";
import type { StoreLogger } from "../store/embedded-store-options";
import { DEFAULT_MAJORITY_WAIT_MS, majorityDatabase } from "../store/mongo-majority-database";
import type { AcceptedCommand } from "./accepted-command";
import type { CommandInbox } from "./command-inbox";
import { INBOX_COLLECTION, acceptedCommandOf, inIdOrder, inboxDocumentOf, nextOrder, ownedByClaimFilter, writtenUnheard, type InboxDocument } from "./mongo-inbox-documents";

export interface MongoCommandInboxOptions {
  client: MongoClient;
  /** The event store's database. */
  database: string;
  /**
   * How long this gateway's claim on its accepted commands lasts without renewal (renewed every third of it). A
   * gateway that stops renewing — it crashed, or lost the database — leaves its commands to whichever gateway
   * claims first after that. Default 30 s.
   */
  leaseMs?: number;
  /**
   * Names this gateway in `owner`. Default a random id per process. Given a stable name (RECQ_GATEWAY_ID), a
   * restarted gateway takes back the commands its previous run left at once, instead of once their lease runs out.
   */
  owner?: string;
  /** How long a write waits for a majority before it fails (RECQ_MONGODB_COMMIT_TIMEOUT_MS). Default 10 s. */
  majorityWaitMs?: number;
  /** Commands a claim reads in one query (see `claim`). Default 1,000; smaller in tests. */
  claimPageSize?: number;
  /** This gateway's clock, in ms since the epoch. Default `Date.now`; a skewed one in tests. */
  clock?: () => number;
  logger?: StoreLogger;
  /**
   * For tests only: runs after an acceptance's insert was acknowledged, before its lease is put on the server's clock.
   * What it throws is taken as the insert's error, so a MongoNetworkError makes an acceptance stored although its
   * add failed (its answer lost).
   */
  afterInsert?: (commandId: string) => Promise<void>;
}

const DEFAULT_CLAIM_PAGE_SIZE = 1_000;

/**
 * The MongoDB inbox: one document per accepted command in `acceptedCommands`, written and read with majority
 * concern (an acceptance acknowledged on a primary alone could be rolled back by a failover, and the command lost),
 * the wait for a majority bounded (`majorityDatabase`).
 *
 * Several gateways may share the database. Each executes the commands it accepted, under a lease it renews; a
 * claim takes over the commands whose lease ran out (one `updateMany` whose filter each document passes only once,
 * so two gateways never both take one) and hands them out in acceptance order. Should two gateways ever run one
 * command (a lease that ran out while its owner was merely slow), the outcome's unique `_id` in the event store
 * lets only one append commit; the other finds that outcome. Order per aggregate holds among the commands one
 * gateway accepted; a takeover's commands run in their order, but not necessarily before commands for the same
 * aggregate that another gateway accepted meanwhile (docs/async-flows.md).
 */
export class MongoCommandInbox implements CommandInbox {
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly claimPageSize: number;
  private readonly clock: () => number;
  private lastOrder = 0;
  /** Ids this inbox handed out by a claim and not settled yet: a later claim does not hand them out again. */
  private readonly handed = new Set<string>();
  /** Ids this inbox recorded (their insert acknowledged) and not settled yet. */
  private readonly recorded = new Set<string>();
  /**
   * Ids whose `add` failed here: the insert may have been stored all the same (its answer lost to a network error
   * or a write concern timeout). The next claim hands out those that were (see `claimUnheard`).
   */
  private readonly unheard = new Set<string>();
  private readonly afterInsert: ((commandId: string) => Promise<void>) | undefined;
  private readonly renewal: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly collection: Collection<InboxDocument>,
    options: MongoCommandInboxOptions,
  ) {
    this.owner = options.owner ?? `gateway-${randomUUID()}`;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.claimPageSize = options.claimPageSize ?? DEFAULT_CLAIM_PAGE_SIZE;
    this.clock = options.clock ?? Date.now;
    this.afterInsert = options.afterInsert;
    this.renewal = setInterval(() => {
      this.renew().catch((error: unknown) => options.logger?.warn("could not renew the lease on accepted commands", { owner: this.owner, error: String(error) }));
    }, Math.max(1, Math.floor(this.leaseMs / 3)));
    this.renewal.unref();
  }

  static async open(options: MongoCommandInboxOptions): Promise<MongoCommandInbox> {
    const db = majorityDatabase(options.client, options.database, options.majorityWaitMs ?? DEFAULT_MAJORITY_WAIT_MS);
    try {
      await db.createCollection(INBOX_COLLECTION);
    } catch (error: unknown) {
      if (serverCode(error) !== ServerCode.NAMESPACE_EXISTS) throw error;
    }
    const collection = db.collection<InboxDocument>(INBOX_COLLECTION);
    await collection.createIndex({ leaseUntil: 1 }, { name: "leaseUntil" });
    await createOwnerIndex(collection, options.logger);
    if (options.owner !== undefined) await reclaimPreviousRun(collection, options.owner);
    return new MongoCommandInbox(collection, options);
  }

  async add(command: AcceptedCommand): Promise<"added" | "present"> {
    this.assertOpen();
    const id = command.commandId;
    this.lastOrder = nextOrder(this.lastOrder, this.clock());
    try {
      try {
        // A retryable write: the driver retries it once after a network error, and the server answers a retry whose
        // first attempt had committed with that attempt's result.
        await this.collection.insertOne(inboxDocumentOf(command, this.lastOrder, this.owner, this.leaseEnd()));
        await this.afterInsert?.(id);
      } catch (error: unknown) {
        if (!isDuplicateKey(error)) throw error;
        if (!(await this.lostAcceptance(id))) return "present";
      }
      // Another gateway's claim took it between the insert and now (its lease, on this gateway's clock, had run
      // out on the server's): that gateway runs it.
      if (!(await this.leaseOnServerClock(id))) return "present";
    } catch (error: unknown) {
      // Whatever failed, the insert may be stored: the caller's retry may reach another gateway, which answers
      // "present", and nothing would run it here while the renewals keep its lease. The next claim hands it out.
      this.unheard.add(id);
      throw error;
    }
    this.unheard.delete(id);
    // A claim that ran meanwhile handed it out already (claimUnheard): it runs from there, not twice.
    if (this.handed.has(id)) return "present";
    this.recorded.add(id);
    return "added";
  }

  /**
   * Moves the lease of this gateway's new acceptance to the server's clock, before the acceptance is answered. The
   * insert can only carry this gateway's time: one whose clock is behind the server's by more than a lease wrote a
   * lease already run out, which another gateway's claim could take before the first renewal — the command then ran
   * on both. False when the document is no longer this gateway's to run: a claim took it first.
   */
  private async leaseOnServerClock(commandId: string): Promise<boolean> {
    const result = await this.collection.updateOne({ _id: commandId, owner: this.owner, claim: null }, [
      { $set: { leaseUntil: this.serverLeaseEnd() } },
    ]);
    return result.matchedCount === 1;
  }

  /**
   * Whether the document that holds `commandId` is one this inbox wrote without hearing so: an earlier `add` that
   * failed (a second network error, a write concern timeout) after the server had stored it, and that no claim has
   * handed out since. The caller's retry reached this gateway first: it is the one that runs it, as with the embedded
   * inbox, which writes a failed acceptance again. (A retry that reaches another gateway finds it present; this
   * gateway's next claim hands it out then, `claimUnheard`.) A document another gateway wrote, or one this inbox
   * recorded or was handed, is the repeat the duplicate key says it is.
   */
  private async lostAcceptance(commandId: string): Promise<boolean> {
    if (this.recorded.has(commandId) || this.handed.has(commandId)) return false;
    // The document the duplicate key met, as the primary holds it: a majority read would not see one whose write
    // timed out waiting for a majority until the majority is back, and would call it another gateway's.
    const existing = await this.collection.findOne(
      { _id: commandId },
      { projection: { owner: 1, claim: 1 }, readConcern: new ReadConcern("local"), readPreference: ReadPreference.primary },
    );
    return existing !== null && writtenUnheard(existing, this.owner);
  }

  /**
   * Takes over what ran out of lease (on the server's clock), then hands out every command this gateway owns by a
   * claim and has not handed out yet — not only this claim's: `updateMany` is not a retryable write, so one cut short
   * by a network error may have taken some documents without this gateway hearing of it; the next claim finds them.
   *
   * The commands are read a page at a time, in acceptance order: a takeover may take as many as the gateways that
   * stopped held (up to RECQ_MAX_ACCEPTED_COMMANDS and RECQ_MAX_ACCEPTED_BYTES each), and one query for them all
   * would name every id in one `$in` (a command document is at most 16 MiB: ~120,000 ids of 128 characters) and sort
   * every payload in memory (a sort over 100 MiB fails on servers before 6.0, which do not spill to disk by default).
   */
  async claim(): Promise<AcceptedCommand[]> {
    this.assertOpen();
    await this.collection.updateMany({ $expr: { $lte: ["$leaseUntil", "$$NOW"] } }, [
      { $set: { owner: { $literal: this.owner }, leaseUntil: this.serverLeaseEnd(), claim: { $literal: randomUUID() } } },
    ]);
    await this.claimUnheard();
    // In acceptance order from the index owner_order_claim (owner equal, then order): no sort in memory.
    const owned = await this.collection.find(ownedByClaimFilter(this.owner), { sort: { order: 1 }, projection: { _id: 1 }, hint: OWNER_INDEX }).toArray();
    // Not one recorded here either: an add that found its lost acceptance meanwhile answered "added" and runs it.
    const fresh = owned.map((document) => document._id).filter((id) => !this.handed.has(id) && !this.recorded.has(id));
    const claimed: AcceptedCommand[] = [];
    for (let start = 0; start < fresh.length; start += this.claimPageSize) {
      // The ids are in acceptance order already: the page is put in that order here, not sorted by the server,
      // which would sort its whole documents, payloads and all, in memory (no index gives an $in's order).
      const page = fresh.slice(start, start + this.claimPageSize);
      for (const document of inIdOrder(page, await this.collection.find({ _id: { $in: page } }).toArray())) {
        this.handed.add(document._id);
        claimed.push(acceptedCommandOf(document));
      }
    }
    return claimed;
  }

  /**
   * Marks as claimed what this gateway stored without hearing so (an `add` that failed after its insert was
   * stored), so that this claim hands it out: the caller's retry may have gone to another gateway, which found the
   * command present and left it to this one. Also makes a later retry here find it present. An id whose document
   * is not there (the insert was never applied, or rolled back) or is no longer this gateway's is forgotten; ids
   * stay for the next claim only if this update fails.
   */
  private async claimUnheard(): Promise<void> {
    const ids = [...this.unheard].filter((id) => !this.recorded.has(id) && !this.handed.has(id));
    for (let start = 0; start < ids.length; start += this.claimPageSize) {
      const page = ids.slice(start, start + this.claimPageSize);
      await this.collection.updateMany({ _id: { $in: page }, owner: this.owner, claim: null }, { $set: { claim: randomUUID() } });
      for (const id of page) this.unheard.delete(id);
    }
  }

  async settle(commandId: string): Promise<void> {
    this.assertOpen();
    await this.collection.deleteOne({ _id: commandId });
    this.handed.delete(commandId);
    this.recorded.delete(commandId);
    this.unheard.delete(commandId);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.renewal);
  }

  private async renew(): Promise<void> {
    if (this.closed) return;
    await this.collection.updateMany({ owner: this.owner }, [{ $set: { leaseUntil: this.serverLeaseEnd() } }]);
  }

  /**
   * The end of a lease given at acceptance, on this gateway's clock: an insert cannot read the server's. It stands
   * only until `leaseOnServerClock`, before the acceptance is answered.
   */
  private leaseEnd(): Date {
    return new Date(this.clock() + this.leaseMs);
  }

  /**
   * The end of a lease given or renewed now, on the server's clock (`$$NOW`, an update pipeline's expression), as
   * every claim reads it: gateways sharing the database need not agree on the time. With each gateway's own clock, one
   * whose clock ran ahead by more than two thirds of a lease took the live gateways' commands (run twice then, and out
   * of order), and one behind took over a stopped gateway's commands that much late.
   */
  private serverLeaseEnd(): { $add: [string, number] } {
    return { $add: ["$$NOW", this.leaseMs] };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the accepted-command inbox is closed");
  }
}

/** The index a claim reads its commands by: owner equal, then acceptance order; `claim` tested on the keys. */
const OWNER_INDEX = "owner_order_claim";
/** Its predecessor, {owner, claim, order}: with `claim: {$ne: null}` a range, it gave no order, and the claim sorted in memory. */
const FORMER_OWNER_INDEX = "owner_claim_order";

/**
 * Creates the owner index (idempotent: the same name and keys again is a no-op, on every gateway and restart) and
 * drops its predecessor, which this version no longer reads. A failed drop is only logged: a gateway of the
 * previous version starting meanwhile may be creating it again, and it costs writes, not correctness.
 */
async function createOwnerIndex(collection: Collection<InboxDocument>, logger: StoreLogger | undefined): Promise<void> {
  await collection.createIndex({ owner: 1, order: 1, claim: 1 }, { name: OWNER_INDEX });
  try {
    await collection.dropIndex(FORMER_OWNER_INDEX);
  } catch (error: unknown) {
    if (serverCode(error) !== ServerCode.INDEX_NOT_FOUND) logger?.warn("could not drop the former inbox index", { index: FORMER_OWNER_INDEX, error: String(error) });
  }
}

/**
 * Marks as claimed what a previous run of the gateway named `owner` accepted and left (its own acceptances carry no
 * claim), so that the first `claim` hands them out. Run before this run accepts anything: a command this run
 * accepts later is executed by it directly and must not be handed out again. A second process running under the
 * same name at the same time is a misconfiguration: two live gateways would then run each other's commands
 * (once each still, by the outcome's unique id, but out of order).
 */
async function reclaimPreviousRun(collection: Collection<InboxDocument>, owner: string): Promise<void> {
  await collection.updateMany({ owner, claim: null }, { $set: { claim: randomUUID() } });
}
