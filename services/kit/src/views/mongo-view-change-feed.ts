import { context, ROOT_CONTEXT } from "@opentelemetry/api";
import type { ChangeStream, ChangeStreamOptions, Db, Document, MongoClient, ResumeToken, Timestamp } from "mongodb";
import { Backoff, WakeableDelay } from "@recq-mesh/protocol";
import { serverCode, ServerCode } from "@recq-mesh/protocol/mongodb";
import { CHECKPOINTS_COLLECTION, type CheckpointDocument } from "./mongo-view-documents";
import { CommitChanges, type FeedEvent } from "./mongo-commit-changes";
import type { ViewChange } from "./view-store";

/**
 * The changes of one view collection, from a MongoDB change stream (which needs a replica set or a sharded
 * cluster): after each commit, one `ViewChange` per document the commit changed.
 *
 * It watches the collection and `recq_checkpoints` together: the checkpoint a commit writes tells the position
 * of the view writes in the same transaction (see `CommitChanges`).
 *
 * The stream starts at the cluster time read when the feed opens (`ready`), so whatever commits after `ready`
 * resolved is heard even if the stream itself is still opening. After an error the stream is reopened after the
 * last event seen (backoff 100 ms doubling to 5 s); if the server no longer has that point in its oplog, the feed
 * goes on from the present and reports the error, as changes were lost.
 */
export class ViewChangeFeed {
  readonly ready: Promise<void>;
  private readonly changes: CommitChanges;
  private stream: ChangeStream<Document, FeedEvent> | undefined;
  private following: Promise<void> = Promise.resolve();
  private readonly retryDelay = new WakeableDelay();
  private closed = false;

  constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly collection: string,
    private readonly publish: (changes: ViewChange[]) => void,
    private readonly onError: (error: unknown) => void,
  ) {
    this.changes = new CommitChanges(collection);
    // Never in a caller's trace: the feed outlives the call that opened it.
    this.ready = context.with(ROOT_CONTEXT, () => this.start());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.retryDelay.wake();
    await this.ready;
    await this.stream?.close().catch(() => undefined);
    await this.following;
  }

  private async start(): Promise<void> {
    const startAt = await this.clusterTimeNow();
    if (!this.closed) this.following = context.with(ROOT_CONTEXT, () => this.follow(startAt));
  }

  /** The operation time of a trivial read: every commit that starts after it has a later one. */
  private async clusterTimeNow(): Promise<Timestamp | undefined> {
    const session = this.client.startSession({ causalConsistency: true });
    try {
      await this.db.collection<CheckpointDocument>(CHECKPOINTS_COLLECTION).findOne({ _id: "" }, { session, projection: { _id: 1 } });
      return session.operationTime;
    } catch (error: unknown) {
      this.onError(error);
      return undefined;
    } finally {
      await session.endSession();
    }
  }

  private async follow(startAt: Timestamp | undefined): Promise<void> {
    let resumeToken: ResumeToken | undefined;
    let from = startAt;
    const backoff = new Backoff();
    while (!this.closed) {
      const options: ChangeStreamOptions = resumeToken !== undefined ? { startAfter: resumeToken } : from !== undefined ? { startAtOperationTime: from } : {};
      let stream: ChangeStream<Document, FeedEvent> | undefined;
      try {
        stream = this.db.watch<Document, FeedEvent>(this.pipeline(), options);
        this.stream = stream;
        while (!this.closed) {
          const event = await stream.next();
          const changes = this.changes.changesOf(event);
          if (changes.length > 0) this.publish(changes);
          resumeToken = stream.resumeToken ?? event._id;
          backoff.reset();
        }
      } catch (error: unknown) {
        if (this.closed) return;
        resumeToken = stream?.resumeToken ?? resumeToken;
        if (serverCode(error) === ServerCode.CHANGE_STREAM_HISTORY_LOST) {
          resumeToken = undefined;
          from = undefined;
        }
        this.onError(error);
        await this.retryDelay.wait(backoff.next());
      } finally {
        this.stream = undefined;
        await stream?.close().catch(() => undefined);
      }
    }
  }

  private pipeline(): Document[] {
    return [
      {
        $match: {
          "ns.coll": { $in: [this.collection, CHECKPOINTS_COLLECTION] },
          operationType: { $in: ["insert", "update", "replace", "delete"] },
        },
      },
      { $project: { operationType: 1, ns: 1, documentKey: 1, lsid: 1, txnNumber: 1, "fullDocument.position": 1 } },
    ];
  }
}
