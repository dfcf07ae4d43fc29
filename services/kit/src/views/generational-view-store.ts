import { generationKey } from "@recq-mesh/protocol";
import type { FindOptions, ViewChange, ViewDocument, ViewFilter, ViewSort, ViewStore, ViewWrite, WatchOptions } from "./view-store";
import { assertCollectionName, assertConsumerName } from "./view-store-arguments";
import { ViewStoreError } from "./view-store-error";

interface Watcher {
  collection: string;
  listener: (change: ViewChange) => void;
  options: WatchOptions | undefined;
  unsubscribe: () => void;
}

/**
 * The views of one projection in generations, over any view store: generation 1 uses the plain collection and
 * checkpoint names, generation N > 1 the names with `~gN` appended (`generationKey`). A rebuild writes generation
 * N + 1 through `generation(N + 1)` while queries read this object, which resolves every name against the current
 * generation at call time: `switchTo(N + 1)` moves the queries, and their watchers, to the new generation without new
 * objects, then drops the old one.
 *
 * The current generation is persisted in the inner store as the checkpoint `<projection>#generation` (a checkpoint
 * only moves forward, as generations do): on MongoDB it survives restarts beside the views; the embedded store keeps
 * it in memory, which is right, since its views are rebuilt by replay on each start anyway.
 */
export class GenerationalViewStore implements ViewStore {
  private current: number;
  /** Reads of each generation in flight: an old generation is dropped only once none reads it any more. */
  private readonly reading = new Map<number, { count: number; idle: Array<() => void> }>();
  /** The collection and consumer names used through any generation: what a switch drops of the old one. */
  private readonly collections = new Set<string>();
  private readonly consumers = new Set<string>();
  private readonly watchers = new Set<Watcher>();
  private readonly handles = new Map<number, ViewStore>();

  private constructor(
    private readonly inner: ViewStore,
    readonly projection: string,
    generation: number,
  ) {
    this.current = generation;
  }

  /** Opens the projection's views at the generation persisted in `inner` (1 when none is). */
  static async open(inner: ViewStore, projection: string): Promise<GenerationalViewStore> {
    assertConsumerName(projection);
    const persisted = await inner.checkpoint(generationRecord(projection));
    return new GenerationalViewStore(inner, projection, Math.max(1, persisted));
  }

  /** The generation queries read. */
  get generation(): number {
    return this.current;
  }

  /** A store fixed at `generation`: what a rebuild's projector writes and reads. Not to be closed (this store owns it). */
  generationHandle(generation: number): ViewStore {
    assertGeneration(generation);
    let handle = this.handles.get(generation);
    if (handle === undefined) {
      handle = new GenerationHandle(this, () => generation);
      this.handles.set(generation, handle);
    }
    return handle;
  }

  /**
   * Makes `generation` the current one: persists it, moves every watcher to its collections, and, once the reads of
   * the old generation in flight are done, drops the old generation's collections and checkpoints.
   */
  async switchTo(generation: number): Promise<void> {
    assertGeneration(generation);
    const old = this.current;
    if (generation <= old) return;
    await this.inner.commit(generationRecord(this.projection), generation, []);
    this.follow(generation);
    await this.readsDone(old);
    for (const collection of this.collections) await this.inner.dropCollection(generationKey(collection, old));
    for (const consumer of this.consumers) await this.inner.dropCheckpoint(generationKey(consumer, old));
  }

  /**
   * Reads `generation` from now on, without dropping anything: a standby of a shared projection follows the switch
   * its active instance made (which dropped the old generation).
   */
  follow(generation: number): void {
    if (generation <= this.current) return;
    this.current = generation;
    for (const watcher of this.watchers) {
      watcher.unsubscribe();
      watcher.unsubscribe = this.inner.watch(generationKey(watcher.collection, generation), watcher.listener, watcher.options);
    }
  }

  findById(collection: string, id: string): Promise<ViewDocument | undefined> {
    return this.read((g) => this.inner.findById(this.collectionIn(collection, g), id));
  }

  find(collection: string, filter: ViewFilter, options?: FindOptions): Promise<ViewDocument[]> {
    return this.read((g) => this.inner.find(this.collectionIn(collection, g), filter, options));
  }

  count(collection: string, filter: ViewFilter): Promise<number> {
    return this.read((g) => this.inner.count(this.collectionIn(collection, g), filter));
  }

  commit(consumer: string, position: number, writes: ViewWrite[]): Promise<void> {
    return this.commitIn(this.current, consumer, position, writes);
  }

  checkpoint(consumer: string): Promise<number> {
    return this.checkpointIn(this.current, consumer);
  }

  /** Follows the current generation: after a switch the listener hears the new generation's changes. */
  watch(collection: string, listener: (change: ViewChange) => void, options?: WatchOptions): () => void {
    const watcher: Watcher = { collection, listener, options, unsubscribe: this.inner.watch(this.collectionIn(collection, this.current), listener, options) };
    this.watchers.add(watcher);
    return () => {
      if (!this.watchers.delete(watcher)) return;
      watcher.unsubscribe();
    };
  }

  ensureIndex(collection: string, keys: ViewSort, options?: { unique?: boolean }): Promise<void> {
    return this.inner.ensureIndex(this.collectionIn(collection, this.current), keys, options);
  }

  dropCollection(collection: string): Promise<void> {
    return this.inner.dropCollection(this.collectionIn(collection, this.current));
  }

  dropCheckpoint(consumer: string): Promise<void> {
    return this.inner.dropCheckpoint(this.consumerIn(consumer, this.current));
  }

  /** Closes the inner store. */
  close(): Promise<void> {
    for (const watcher of this.watchers) watcher.unsubscribe();
    this.watchers.clear();
    return this.inner.close();
  }

  /** @internal The name of `collection` in `generation`, remembered so that a switch can drop it. */
  collectionIn(collection: string, generation: number): string {
    // Only names the store accepts: a bad one is refused by the inner store, and must not make a switch fail.
    if (accepts(assertCollectionName, collection)) this.collections.add(collection);
    return generationKey(collection, generation);
  }

  /** @internal */
  consumerIn(consumer: string, generation: number): string {
    if (accepts(assertConsumerName, consumer)) this.consumers.add(consumer);
    return generationKey(consumer, generation);
  }

  /** @internal */
  commitIn(generation: number, consumer: string, position: number, writes: ViewWrite[]): Promise<void> {
    const placed = Array.isArray(writes) ? writes.map((write) => this.placeWrite(write, generation)) : writes;
    return this.inner.commit(this.consumerIn(consumer, generation), position, placed);
  }

  /** @internal */
  checkpointIn(generation: number, consumer: string): Promise<number> {
    return this.inner.checkpoint(this.consumerIn(consumer, generation));
  }

  /** @internal The inner store, for a generation handle. */
  get innerStore(): ViewStore {
    return this.inner;
  }

  private placeWrite(write: ViewWrite, generation: number): ViewWrite {
    if (typeof write !== "object" || write === null || typeof write.collection !== "string") return write;
    return { ...write, collection: this.collectionIn(write.collection, generation) };
  }

  /** Runs a read against the current generation, counted until it settles. */
  private async read<T>(work: (generation: number) => Promise<T>): Promise<T> {
    const generation = this.current;
    const entry = this.reading.get(generation) ?? { count: 0, idle: [] };
    this.reading.set(generation, entry);
    entry.count++;
    try {
      return await work(generation);
    } finally {
      entry.count--;
      if (entry.count === 0) {
        this.reading.delete(generation);
        for (const resolve of entry.idle) resolve();
      }
    }
  }

  private readsDone(generation: number): Promise<void> {
    const entry = this.reading.get(generation);
    if (entry === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => entry.idle.push(resolve));
  }
}

/** One generation's views, fixed: its reads, writes, checkpoint and watchers never move. */
class GenerationHandle implements ViewStore {
  constructor(
    private readonly owner: GenerationalViewStore,
    private readonly generation: () => number,
  ) {}

  findById(collection: string, id: string): Promise<ViewDocument | undefined> {
    return this.owner.innerStore.findById(this.owner.collectionIn(collection, this.generation()), id);
  }

  find(collection: string, filter: ViewFilter, options?: FindOptions): Promise<ViewDocument[]> {
    return this.owner.innerStore.find(this.owner.collectionIn(collection, this.generation()), filter, options);
  }

  count(collection: string, filter: ViewFilter): Promise<number> {
    return this.owner.innerStore.count(this.owner.collectionIn(collection, this.generation()), filter);
  }

  commit(consumer: string, position: number, writes: ViewWrite[]): Promise<void> {
    return this.owner.commitIn(this.generation(), consumer, position, writes);
  }

  checkpoint(consumer: string): Promise<number> {
    return this.owner.checkpointIn(this.generation(), consumer);
  }

  watch(collection: string, listener: (change: ViewChange) => void, options?: WatchOptions): () => void {
    return this.owner.innerStore.watch(this.owner.collectionIn(collection, this.generation()), listener, options);
  }

  ensureIndex(collection: string, keys: ViewSort, options?: { unique?: boolean }): Promise<void> {
    return this.owner.innerStore.ensureIndex(this.owner.collectionIn(collection, this.generation()), keys, options);
  }

  dropCollection(collection: string): Promise<void> {
    return this.owner.innerStore.dropCollection(this.owner.collectionIn(collection, this.generation()));
  }

  dropCheckpoint(consumer: string): Promise<void> {
    return this.owner.innerStore.dropCheckpoint(this.owner.consumerIn(consumer, this.generation()));
  }

  /** The owner closes the inner store; a handle has nothing of its own to close. */
  async close(): Promise<void> {}
}

/** The checkpoint that holds a projection's current generation. */
function generationRecord(projection: string): string {
  return `${projection}#generation`;
}

function accepts(assert: (name: unknown) => void, name: unknown): boolean {
  try {
    assert(name);
    return true;
  } catch {
    return false;
  }
}

function assertGeneration(generation: number): void {
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new ViewStoreError("INVALID_ARGUMENT", `a generation is a positive integer, got ${String(generation)}`);
  }
}
