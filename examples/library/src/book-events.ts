import type { DomainEvent } from "@recq-mesh/kit";
import { BookLent, BookRegistered, BookReturned } from "../gen/library/v1/events";

/** The Book events by full protobuf name: how the kit encodes, decodes and tells them apart. */
export const bookEvents = {
  "library.v1.BookRegistered": BookRegistered,
  "library.v1.BookLent": BookLent,
  "library.v1.BookReturned": BookReturned,
};

export type BookEvent = DomainEvent<typeof bookEvents>;
