import type { ViewStore } from "@recq-mesh/kit";
import type { BookView } from "../gen/library/v1/queries";
import { BOOKS, toView } from "./book-view";
import { findBook, readBook, requireBookId } from "./read-book";

/** What WatchBook needs of its streaming query context. */
export interface WatchContext {
  signal: AbortSignal;
  emit(view: BookView): void;
}

/**
 * WatchBook: the book's current view, then the view again after each change, until the caller goes away. A book
 * is never removed from the catalogue, so only the caller (or a failed read) ends the subscription.
 */
export async function watchBook(store: ViewStore, bookId: string, context: WatchContext): Promise<void> {
  const id = requireBookId(bookId);
  const subscription = untilAborted(context.signal);
  let lastVersion = -1;
  const emitLatest = async () => {
    const document = await readBook(store, id);
    // Several changes may be read as one: send each version once, and never an older one after a newer.
    if (document === undefined || document.version <= lastVersion) return;
    lastVersion = document.version;
    context.emit(toView(document));
  };
  // Reads run one after another, so views go out in order.
  let reads = Promise.resolve();
  const next = () => void (reads = reads.then(emitLatest).catch(subscription.fail));
  // Subscribe before the first read, so that no change between the two is missed.
  const unsubscribe = store.watch(BOOKS, next, { id });
  try {
    await findBook(store, id);
    next();
    await subscription.ended;
  } finally {
    unsubscribe();
  }
}

/** Settles when the signal aborts; `fail` ends it early with a read's error, which the handler then throws. */
function untilAborted(signal: AbortSignal): { ended: Promise<void>; fail: (error: unknown) => void } {
  let fail: (error: unknown) => void = () => undefined;
  const ended = new Promise<void>((resolve, reject) => {
    fail = reject;
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
  // A read may fail before the handler awaits `ended` (while it checks that the book exists): not unhandled.
  ended.catch(() => undefined);
  return { ended, fail };
}
