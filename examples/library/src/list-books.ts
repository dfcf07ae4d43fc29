import { status } from "@grpc/grpc-js";
import { MeshError, type ViewFilter, type ViewStore } from "@recq-mesh/kit";
import type { BookList, ListBooks } from "../gen/library/v1/queries";
import { decodePageToken, encodePageToken } from "./book-page-token";
import { BOOKS, toView, type BookDocument } from "./book-view";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** One page of the catalogue, filtered by author and availability, in book_id order. */
export async function listBooks(store: ViewStore, request: ListBooks): Promise<BookList> {
  const pageSize = pageSizeOf(request.pageSize);
  // One more than the page: whether it exists tells whether there is a next page, without a count.
  const documents = (await store.find(BOOKS, filterOf(request), { sort: { _id: 1 }, limit: pageSize + 1 })) as BookDocument[];
  const page = documents.slice(0, pageSize);
  const last = page.at(-1);
  return { books: page.map(toView), nextPageToken: documents.length > pageSize && last !== undefined ? encodePageToken(last._id) : "" };
}

function filterOf(request: ListBooks): ViewFilter {
  const filter: ViewFilter = {};
  if (request.author !== "") filter.author = request.author;
  if (request.availableOnly) filter.available = true;
  if (request.pageToken !== "") filter._id = { $gt: decodePageToken(request.pageToken) };
  return filter;
}

function pageSizeOf(requested: number): number {
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  if (requested > MAX_PAGE_SIZE) throw new MeshError(status.INVALID_ARGUMENT, `page_size must be at most ${MAX_PAGE_SIZE}`);
  return requested;
}
