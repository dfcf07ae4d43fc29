import { status } from "@grpc/grpc-js";
import { MeshError, type ViewStore } from "@recq-mesh/kit";
import { BOOKS, type BookDocument } from "./book-view";

/** A query's book_id: queries have no routing key, so the gateway leaves the check to the handler. */
export function requireBookId(bookId: string): string {
  if (bookId === "") throw new MeshError(status.INVALID_ARGUMENT, "book_id is required");
  return bookId;
}

/** The book's document, or undefined while the view has not seen it registered. */
export async function readBook(store: ViewStore, bookId: string): Promise<BookDocument | undefined> {
  return (await store.findById(BOOKS, bookId)) as BookDocument | undefined;
}

/** The book's document, or NOT_FOUND: the status GetBook and WatchBook answer for a book never registered. */
export async function findBook(store: ViewStore, bookId: string): Promise<BookDocument> {
  const document = await readBook(store, bookId);
  if (document === undefined) throw new MeshError(status.NOT_FOUND, `book ${bookId} is not registered`);
  return document;
}
