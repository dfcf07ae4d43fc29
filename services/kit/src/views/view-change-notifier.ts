import type { ViewChange } from "./view-store";

export type ViewChangeListener = (change: ViewChange) => void;
export type ListenerErrorHandler = (error: unknown, change: ViewChange) => void;

/**
 * Delivers the changes of each commit to the listeners of their collection, in commit order. A listener that
 * throws is reported to `onListenerError` and the others still run. A listener that commits again is safe:
 * the new commit's changes queue behind the ones being delivered instead of interleaving with them.
 *
 * A listener may watch one document: it is kept under that id, so a change costs the listeners of its
 * collection as a whole and of its own document, not every watcher of every document (a thousand
 * WatchTodoList callers were a fifth of the handler's CPU when each heard every change).
 */
export class ViewChangeNotifier {
  /** By subscription key: the collection, or the collection and one document id. */
  private readonly listeners = new Map<string, Set<ViewChangeListener>>();
  /** Subscriptions per collection, whatever their key: what `publish` checks before queueing a change. */
  private readonly collections = new Map<string, number>();
  private readonly queue: ViewChange[] = [];
  private delivering = false;

  constructor(private readonly onListenerError: ListenerErrorHandler) {}

  /** Hears the changes of `collection`, or of its document `id` only. Returns the unsubscribe. */
  subscribe(collection: string, listener: ViewChangeListener, id?: string): () => void {
    const key = subscriptionKey(collection, id);
    let keyListeners = this.listeners.get(key);
    if (keyListeners === undefined) {
      keyListeners = new Set();
      this.listeners.set(key, keyListeners);
    }
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const subscription: ViewChangeListener = (change) => listener(change);
    keyListeners.add(subscription);
    this.collections.set(collection, (this.collections.get(collection) ?? 0) + 1);
    // Calling it again is harmless: the wrapper is gone from its set, so nothing is counted twice.
    return () => this.unsubscribe(collection, key, subscription);
  }

  publish(changes: readonly ViewChange[]): void {
    for (const change of changes) {
      if (this.collections.has(change.collection)) this.queue.push(Object.freeze({ ...change }));
    }
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) this.deliver(next);
    } finally {
      this.delivering = false;
    }
  }

  clear(): void {
    this.listeners.clear();
    this.collections.clear();
    this.queue.length = 0;
  }

  private deliver(change: ViewChange): void {
    this.deliverTo(this.listeners.get(subscriptionKey(change.collection, undefined)), change);
    this.deliverTo(this.listeners.get(subscriptionKey(change.collection, change.id)), change);
  }

  private deliverTo(keyListeners: Set<ViewChangeListener> | undefined, change: ViewChange): void {
    if (keyListeners === undefined) return;
    for (const listener of [...keyListeners]) {
      // One that unsubscribed while this change was being delivered no longer hears it.
      if (keyListeners.has(listener)) this.callSafely(listener, change);
    }
  }

  private callSafely(listener: ViewChangeListener, change: ViewChange): void {
    try {
      listener(change);
    } catch (error: unknown) {
      try {
        this.onListenerError(error, change);
      } catch {
        // The error handler failing too must not break the commit that is notifying.
      }
    }
  }

  private unsubscribe(collection: string, key: string, subscription: ViewChangeListener): void {
    const keyListeners = this.listeners.get(key);
    if (keyListeners === undefined || !keyListeners.delete(subscription)) return;
    if (keyListeners.size === 0) this.listeners.delete(key);
    const left = (this.collections.get(collection) ?? 1) - 1;
    if (left === 0) this.collections.delete(collection);
    else this.collections.set(collection, left);
  }
}

/** NUL cannot occur in a collection name (checked on entry), so the key is unambiguous. */
function subscriptionKey(collection: string, id: string | undefined): string {
  return id === undefined ? collection : `${collection}\u0000${id}`;
}
