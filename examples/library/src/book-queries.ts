import type { ProjectionRef, QueryDefinition, ViewStore } from "@recq-mesh/kit";
import { BookQueryServiceService } from "../gen/library/v1/queries";
import { toView } from "./book-view";
import { listBooks } from "./list-books";
import { findBook, requireBookId } from "./read-book";
import { watchBook } from "./watch-book";

/**
 * Answers the Book queries from the `books` view. Naming the projection that writes it is what makes
 * consistency tokens work: the gateway holds a query carrying `recq-consistency-token` until that projection has
 * applied the token's position.
 */
export function bookQueries(store: ViewStore, projection: ProjectionRef): QueryDefinition<typeof BookQueryServiceService> {
  return {
    service: BookQueryServiceService,
    projection,
    handlers: {
      getBook: async (request) => toView(await findBook(store, requireBookId(request.bookId))),
      listBooks: (request) => listBooks(store, request),
      watchBook: (request, context) => watchBook(store, request.bookId, context),
    },
  };
}
