import { status } from "@grpc/grpc-js";
import { MeshError, type AggregateDefinition } from "@recq-mesh/kit";
import { BookCommandServiceService, type LendBook, type RegisterBook, type ReturnBook } from "../gen/library/v1/commands";
import { BookState } from "../gen/library/v1/events";
import { bookEvents, type BookEvent } from "./book-events";
import { requiredId, requiredText } from "./input";

/** The Book aggregate: one per copy on the shelf. `decide` applies the lending rules, `evolve` folds the loans. */
export const bookAggregate: AggregateDefinition<typeof BookCommandServiceService, BookState, typeof bookEvents> = {
  service: BookCommandServiceService,
  events: bookEvents,
  initialState: () => BookState.fromPartial({}),
  evolve,
  // A popular book is lent and returned for years: a snapshot keeps the history shipped with each command short.
  snapshot: { type: "library.v1.BookState", codec: BookState, every: 100 },
  // evolve returns new states and decide only reads them, so folded states may be reused; a state is two ids.
  stateCache: { maxAggregates: 10_000 },
  decide: { registerBook, lendBook, returnBook },
};

export function evolve(state: BookState, event: BookEvent): BookState {
  switch (event.type) {
    case "library.v1.BookRegistered":
      return { bookId: event.data.bookId, borrowerId: "" };
    case "library.v1.BookLent":
      return { ...state, borrowerId: event.data.memberId };
    case "library.v1.BookReturned":
      return { ...state, borrowerId: "" };
  }
}

function registerBook(command: RegisterBook, state: BookState): BookEvent[] {
  if (state.bookId !== "") throw new MeshError(status.ALREADY_EXISTS, `book ${command.bookId} is already registered`);
  const bookId = requiredId("book_id", command.bookId);
  const title = requiredText("title", command.title);
  const author = requiredText("author", command.author);
  return [{ type: "library.v1.BookRegistered", data: { bookId, title, author } }];
}

function lendBook(command: LendBook, state: BookState): BookEvent[] {
  requireRegistered(state, command.bookId);
  const memberId = requiredId("member_id", command.memberId);
  if (state.borrowerId !== "") {
    throw new MeshError(status.FAILED_PRECONDITION, `book ${command.bookId} is already lent to member ${state.borrowerId}: it must be returned first`);
  }
  return [{ type: "library.v1.BookLent", data: { bookId: command.bookId, memberId } }];
}

function returnBook(command: ReturnBook, state: BookState): BookEvent[] {
  requireRegistered(state, command.bookId);
  if (state.borrowerId === "") throw new MeshError(status.FAILED_PRECONDITION, `book ${command.bookId} is not lent: it is on the shelf`);
  return [{ type: "library.v1.BookReturned", data: { bookId: command.bookId, memberId: state.borrowerId } }];
}

function requireRegistered(state: BookState, bookId: string): void {
  if (state.bookId === "") throw new MeshError(status.NOT_FOUND, `book ${bookId} is not registered`);
}
