import type { ViewChange } from "./view-store";

export type ViewChangeListener = (change: ViewChange) => void;
export type ListenerErrorHandler = (error: unknown, change: ViewChange) => void;

/**
 * Delivers the changes of each commit to the listeners of their collection, in commit order. A listener that
 * throws is reported to `onListenerError` and the others still run. A listener that commits again is safe:
 * the new commit's changes queue behind the ones being delivered instead of interleaving with them.
 */
export class ViewChangeNotifier {
  private readonly listeners = new Map<string, Set<ViewChangeListener>>();
  private readonly queue: ViewChange[] = [];
  private delivering = false;

  constructor(private readonly onListenerError: ListenerErrorHandler) {}

  subscribe(collection: string, listener: ViewChangeListener): () => void {
    let collectionListeners = this.listeners.get(collection);
    if (collectionListeners === undefined) {
      collectionListeners = new Set();
      this.listeners.set(collection, collectionListeners);
    }
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const subscription: ViewChangeListener = (change) => listener(change);
    collectionListeners.add(subscription);
    return () => this.unsubscribe(collection, subscription);
  }

  publish(changes: readonly ViewChange[]): void {
    for (const change of changes) {
      if (this.listeners.has(change.collection)) this.queue.push(Object.freeze({ ...change }));
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
    this.queue.length = 0;
  }

  private deliver(change: ViewChange): void {
    const collectionListeners = this.listeners.get(change.collection);
    if (collectionListeners === undefined) return;
    for (const listener of [...collectionListeners]) {
      // One that unsubscribed while this change was being delivered no longer hears it.
      if (collectionListeners.has(listener)) this.callSafely(listener, change);
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

  private unsubscribe(collection: string, subscription: ViewChangeListener): void {
    const collectionListeners = this.listeners.get(collection);
    if (collectionListeners === undefined) return;
    collectionListeners.delete(subscription);
    if (collectionListeners.size === 0) this.listeners.delete(collection);
  }
}
