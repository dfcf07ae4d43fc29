import type { ExecutionObserver } from "../commands/command-pipeline";

/**
 * Who watches which command id. The pipeline and the accepted-command executor tell it when something changes for
 * an id (asking `isWatched` first, so unwatched ids cost one lookup); each watcher then reads the outcome anew.
 */
export class OutcomeSignals implements ExecutionObserver {
  private readonly watchers = new Map<string, Set<() => void>>();

  isWatched(commandId: string): boolean {
    return this.watchers.has(commandId);
  }

  changed(commandId: string): void {
    const listeners = this.watchers.get(commandId);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) listener();
  }

  /** Calls `listener` on each change for `commandId` until the returned function is called. */
  watch(commandId: string, listener: () => void): () => void {
    let listeners = this.watchers.get(commandId);
    if (listeners === undefined) this.watchers.set(commandId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.watchers.get(commandId) === listeners) this.watchers.delete(commandId);
    };
  }
}
