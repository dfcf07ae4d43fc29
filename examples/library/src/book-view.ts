import type { ViewDocument } from "@recq-mesh/kit";
import type { BookView } from "../gen/library/v1/queries";

/** The view collection the projection writes and the queries read. */
export const BOOKS = "books";

/** A book as stored in the view store: the BookView, with times as numbers so that they sort and compare. */
export interface BookDocument extends ViewDocument {
  _id: string;
  title: string;
  author: string;
  available: boolean;
  /** Empty while the book is available. */
  borrowerId: string;
  timesLent: number;
  /** The aggregate sequence of the last event applied: how a replayed event is recognised. */
  version: number;
  registeredAtMs: number;
  updatedAtMs: number;
}

export function toView(document: BookDocument): BookView {
  return {
    bookId: document._id,
    title: document.title,
    author: document.author,
    available: document.available,
    borrowerId: document.borrowerId,
    timesLent: document.timesLent,
    version: String(document.version),
    registeredAt: new Date(document.registeredAtMs),
    updatedAt: new Date(document.updatedAtMs),
  };
}
