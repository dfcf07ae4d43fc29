import { CommitStage } from "./commit-stage";
import { copyDocument } from "./document-copy";
import { resolveOptions, type EmbeddedViewStoreOptions, type ResolvedViewStoreOptions } from "./embedded-view-store-options";
import { planFind } from "./find-range";
import { compileFilter, findDocuments } from "./mingo-bridge";
import type { DocumentChange } from "./unique-index";
import { ViewChangeNotifier } from "./view-change-notifier";
import { ViewCollection } from "./view-collection";
import type { FindOptions, ViewChange, ViewDocument, ViewFilter, ViewSort, ViewStore, ViewWrite, WatchOptions } from "./view-store";
import {
  assertCollectionName,
  assertConsumerName,
  assertDocumentId,
  assertFilter,
  assertIndexKeys,
  assertPosition,
  assertWriteList,
  assertWriteTarget,
} from "./view-store-arguments";
import { messageOf, ViewStoreError } from "./view-store-error";

/**
 * The view store of `npm start` and of tests on a machine without MongoDB: collections of documents in
 * memory, with MongoDB's filter, sort and update semantics from mingo.
 *
 * State lives in memory only. After a process restart every checkpoint is 0 again, so projectors start from
 * the beginning and rebuild their views by replaying the event stream from the gateway; query handlers see
 * views fill up as the replay proceeds (a consistency token makes a query wait for its position).
 *
 * Guarantees: a commit applies all its writes and the checkpoint, or nothing; a commit at or below the
 * consumer's checkpoint changes nothing; unique indexes hold after every commit; reads and writes deep-copy,
 * so callers never share an object with the store; watch listeners run right after a commit applies, before
 * its promise resolves. Failures are `ViewStoreError`s with a code. Keep numbers as plain JavaScript numbers:
 * mingo compares neither `Long` nor int64 strings numerically. Limits are in {@link EmbeddedViewStoreOptions}.
 */
export class EmbeddedViewStore implements ViewStore {
  private readonly collections = new Map<string, ViewCollection>();
  private readonly checkpoints = new Map<string, number>();
  private readonly notifier: ViewChangeNotifier;
  private readonly options: ResolvedViewStoreOptions;
  private closed = false;

  constructor(options: EmbeddedViewStoreOptions = {}) {
    this.options = resolveOptions(options);
    this.notifier = new ViewChangeNotifier(this.options.onListenerError);
  }

  async findById(collection: string, id: string): Promise<ViewDocument | undefined> {
    this.assertOpen("findById");
    assertCollectionName(collection);
    assertDocumentId(id);
    const document = this.collections.get(collection)?.get(id);
    return document === undefined ? undefined : copyDocument(document);
  }

  async find(collection: string, filter: ViewFilter, options?: FindOptions): Promise<ViewDocument[]> {
    this.assertOpen("find");
    assertCollectionName(collection);
    assertFilter(filter);
    const plan = planFind(options, this.options.maxFindResults);
    const documents = this.collections.get(collection)?.all() ?? [];
    const found = withFilterContext(collection, () => findDocuments(documents, filter, plan));
    if (!plan.limited && found.length > this.options.maxFindResults) {
      throw new ViewStoreError(
        "LIMIT_EXCEEDED",
        `find on '${collection}' matches more than the store's maximum of ${this.options.maxFindResults} documents: ` +
          "pass a limit and page with skip",
      );
    }
    return found.map(copyDocument);
  }

  async count(collection: string, filter: ViewFilter): Promise<number> {
    this.assertOpen("count");
    assertCollectionName(collection);
    assertFilter(filter);
    const matches = withFilterContext(collection, () => compileFilter(filter));
    let count = 0;
    for (const document of this.collections.get(collection)?.all() ?? []) {
      if (matches(document)) count++;
    }
    return count;
  }

  async commit(consumer: string, position: number, writes: ViewWrite[]): Promise<void> {
    this.assertOpen("commit");
    assertConsumerName(consumer);
    assertPosition(position);
    assertWriteList(writes);
    if (position <= this.checkpointOf(consumer)) return;
    if (writes.length > this.options.maxWritesPerCommit) {
      throw new ViewStoreError(
        "LIMIT_EXCEEDED",
        `commit of '${consumer}' at ${position} has ${writes.length} writes, ` +
          `more than the store's maximum of ${this.options.maxWritesPerCommit}`,
      );
    }
    const changes = this.stage(consumer, position, writes);
    this.applyChanges(changes);
    this.checkpoints.set(consumer, position);
    this.notifier.publish(changes.map(({ collection, id }): ViewChange => ({ collection, id, position })));
  }

  async checkpoint(consumer: string): Promise<number> {
    this.assertOpen("checkpoint");
    assertConsumerName(consumer);
    return this.checkpointOf(consumer);
  }

  watch(collection: string, listener: (change: ViewChange) => void, options?: WatchOptions): () => void {
    this.assertOpen("watch");
    assertCollectionName(collection);
    if (options?.id !== undefined) assertDocumentId(options.id);
    return this.notifier.subscribe(collection, listener, options?.id);
  }

  async ensureIndex(collection: string, keys: ViewSort, options?: { unique?: boolean }): Promise<void> {
    this.assertOpen("ensureIndex");
    assertCollectionName(collection);
    assertIndexKeys(keys);
    this.collectionNamed(collection).ensureIndex(keys, options?.unique === true);
  }

  async dropCollection(collection: string): Promise<void> {
    this.assertOpen("dropCollection");
    assertCollectionName(collection);
    this.collections.delete(collection);
  }

  async dropCheckpoint(consumer: string): Promise<void> {
    this.assertOpen("dropCheckpoint");
    assertConsumerName(consumer);
    this.checkpoints.delete(consumer);
  }

  /** Drops every view, checkpoint and listener. Idempotent; every other call afterwards rejects with CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    this.collections.clear();
    this.checkpoints.clear();
    this.notifier.clear();
  }

  /** Applies `writes` to copies and checks unique indexes; throws, with nothing changed, if any write fails. */
  private stage(consumer: string, position: number, writes: readonly ViewWrite[]): DocumentChange[] {
    const describeCommit = `commit of '${consumer}' at ${position} rejected, nothing applied`;
    const stage = new CommitStage((collection, id) => this.collections.get(collection)?.get(id));
    writes.forEach((write, index) => {
      try {
        assertWriteTarget(write);
        stage.apply(write);
      } catch (error: unknown) {
        throw rethrowWithContext(error, `${describeCommit}: write ${index + 1} of ${writes.length} (${describeWrite(write)})`);
      }
    });
    const changes = stage.changes();
    try {
      for (const [name, collectionChanges] of groupByCollection(changes)) this.collections.get(name)?.assertUnique(collectionChanges);
    } catch (error: unknown) {
      throw rethrowWithContext(error, describeCommit);
    }
    return changes;
  }

  private applyChanges(changes: readonly DocumentChange[]): void {
    for (const [name, collectionChanges] of groupByCollection(changes)) this.collectionNamed(name).apply(collectionChanges);
  }

  private collectionNamed(name: string): ViewCollection {
    let collection = this.collections.get(name);
    if (collection === undefined) {
      collection = new ViewCollection(name);
      this.collections.set(name, collection);
    }
    return collection;
  }

  private checkpointOf(consumer: string): number {
    return this.checkpoints.get(consumer) ?? 0;
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new ViewStoreError("CLOSED", `view store is closed: ${operation} refused`);
  }
}

function groupByCollection(changes: readonly DocumentChange[]): Map<string, DocumentChange[]> {
  const groups = new Map<string, DocumentChange[]>();
  for (const change of changes) {
    const group = groups.get(change.collection);
    if (group === undefined) groups.set(change.collection, [change]);
    else group.push(change);
  }
  return groups;
}

/** Runs mingo on a caller's filter; its complaints about the filter become INVALID_ARGUMENT. */
function withFilterContext<T>(collection: string, run: () => T): T {
  try {
    return run();
  } catch (error: unknown) {
    throw rethrowWithContext(error, `invalid filter on '${collection}'`, "INVALID_ARGUMENT");
  }
}

/** Keeps a ViewStoreError's code; anything else (mingo's own errors) gets `fallbackCode`. */
function rethrowWithContext(
  error: unknown,
  context: string,
  fallbackCode: "INVALID_WRITE" | "INVALID_ARGUMENT" = "INVALID_WRITE",
): ViewStoreError {
  const code = error instanceof ViewStoreError ? error.code : fallbackCode;
  return new ViewStoreError(code, `${context}: ${messageOf(error)}`, { cause: error });
}

function describeWrite(write: ViewWrite): string {
  if (typeof write !== "object" || write === null) return String(write);
  const id = write.kind === "put" ? write.document?._id : write.id;
  return `${String(write.kind)} ${String(write.collection)}/${String(id)}`;
}
