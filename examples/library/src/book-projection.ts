import type { EventMeta, ProjectionDefinition, ViewStore, ViewWrite } from "@recq-mesh/kit";
import { bookEvents, type BookEvent } from "./book-events";
import { BOOKS, type BookDocument } from "./book-view";

/**
 * Keeps the `books` view: one document per book. The kit commits each event's writes together with the
 * projection's checkpoint, so a redelivered event is never applied twice.
 */
export function bookProjection(store: ViewStore, scope: "shared" | "instance"): ProjectionDefinition<typeof bookEvents> {
  return {
    name: "library-books",
    scope,
    store,
    events: bookEvents,
    // The ListBooks filters, each followed by the book_id order the pages are read in.
    setup: async (views) => {
      await views.ensureIndex(BOOKS, { author: 1, _id: 1 });
      await views.ensureIndex(BOOKS, { available: 1, _id: 1 });
      await views.ensureIndex(BOOKS, { author: 1, available: 1, _id: 1 });
    },
    apply: async (event, meta, views) => bookWrites((await views.findById(BOOKS, event.data.bookId)) as BookDocument | undefined, event, meta),
  };
}

/** The view writes for one event: a pure function of the current document, tested like `evolve`. */
export function bookWrites(current: BookDocument | undefined, event: BookEvent, meta: EventMeta): ViewWrite[] {
  // An event the document already reflects (a replay over a view kept in MongoDB) changes nothing.
  if (current !== undefined && meta.sequence <= current.version) return [];
  if (event.type === "library.v1.BookRegistered") return [{ kind: "put", collection: BOOKS, document: registered(event.data, meta) }];
  // A loan of a book the view never saw registered: nothing to update.
  if (current === undefined) return [];
  const touched = { version: meta.sequence, updatedAtMs: meta.timeMs };
  switch (event.type) {
    case "library.v1.BookLent":
      // An update, not a put: the count is incremented where it is stored, the rest of the document is kept.
      return [update(current._id, { $set: { ...touched, available: false, borrowerId: event.data.memberId }, $inc: { timesLent: 1 } })];
    case "library.v1.BookReturned":
      return [update(current._id, { $set: { ...touched, available: true, borrowerId: "" } })];
  }
}

function registered(data: { bookId: string; title: string; author: string }, meta: EventMeta): BookDocument {
  return {
    _id: data.bookId,
    title: data.title,
    author: data.author,
    available: true,
    borrowerId: "",
    timesLent: 0,
    version: meta.sequence,
    registeredAtMs: meta.timeMs,
    updatedAtMs: meta.timeMs,
  };
}

function update(id: string, changes: Record<string, unknown>): ViewWrite {
  return { kind: "update", collection: BOOKS, id, update: changes };
}
