import type { ViewChange } from "./view-store";
import { messageOf } from "./view-store-error";

/** The documented limits and hooks of the embedded view store. */
export interface EmbeddedViewStoreOptions {
  /**
   * Most writes one commit may carry (default 10 000). A commit is staged in full before it applies and holds
   * the event loop while it does, so this bounds both its memory and its pause. A larger commit rejects.
   */
  maxWritesPerCommit?: number;
  /**
   * Most documents one `find` may return (default 1 000), since each is deep-copied for the caller.
   * A `limit` above it rejects (a query handler's page size is a programming choice, and a silently shorter
   * page would look like the end of the data); so does a `find` without limit that matches more: page it.
   */
  maxFindResults?: number;
  /** Hears a watch listener's exception (default: a process warning); it never reaches the commit. */
  onListenerError?: (error: unknown, change: ViewChange) => void;
}

export const DEFAULT_MAX_WRITES_PER_COMMIT = 10_000;
export const DEFAULT_MAX_FIND_RESULTS = 1_000;

export type ResolvedViewStoreOptions = Required<EmbeddedViewStoreOptions>;

export function resolveOptions(options: EmbeddedViewStoreOptions): ResolvedViewStoreOptions {
  return {
    maxWritesPerCommit: positiveInteger("maxWritesPerCommit", options.maxWritesPerCommit ?? DEFAULT_MAX_WRITES_PER_COMMIT),
    maxFindResults: positiveInteger("maxFindResults", options.maxFindResults ?? DEFAULT_MAX_FIND_RESULTS),
    onListenerError: options.onListenerError ?? warnAboutListenerError,
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`EmbeddedViewStore option ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function warnAboutListenerError(error: unknown, change: ViewChange): void {
  process.emitWarning(
    `a view change listener of '${change.collection}' threw on document '${change.id}' at position ${change.position}: ${messageOf(error)}`,
    { code: "RECQ_VIEW_LISTENER_FAILED" },
  );
}
