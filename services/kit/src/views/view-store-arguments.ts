import { isPlainObject } from "./document-copy";
import type { ViewSort, ViewWrite } from "./view-store";
import { ViewStoreError } from "./view-store-error";

/**
 * Checks of what callers pass in, with MongoDB's rules where it has them, so that code which runs on the
 * embedded store also runs on MongoDB. Types alone do not hold at run time for callers in plain JavaScript.
 */

export function assertCollectionName(collection: unknown): asserts collection is string {
  if (typeof collection !== "string" || collection === "" || /[$\0]/.test(collection) || collection.startsWith("system.")) {
    throw invalidArgument(`invalid collection name ${JSON.stringify(collection)}: non-empty, no '$' or NUL, not 'system.*'`);
  }
}

export function assertConsumerName(consumer: unknown): asserts consumer is string {
  if (typeof consumer !== "string" || consumer === "") {
    throw invalidArgument(`a consumer name must be a non-empty string, got ${JSON.stringify(consumer)}`);
  }
}

export function assertDocumentId(id: unknown): asserts id is string {
  if (typeof id !== "string") throw invalidArgument(`a document _id must be a string, got ${typeof id}`);
}

export function assertPosition(position: unknown): asserts position is number {
  if (typeof position !== "number" || !Number.isSafeInteger(position) || position < 0) {
    throw invalidArgument(`a checkpoint position must be a non-negative integer, got ${String(position)}`);
  }
}

export function assertFilter(filter: unknown): void {
  if (!isPlainObject(filter)) throw invalidArgument("a filter must be an object (use {} to match every document)");
}

export function assertWriteList(writes: unknown): asserts writes is ViewWrite[] {
  if (!Array.isArray(writes)) throw invalidArgument("writes must be an array");
}

/** Checks the collection and `_id` a write names; the rest is checked as the write is staged. */
export function assertWriteTarget(write: ViewWrite): void {
  if (!isPlainObject(write)) throw invalidArgument("a write must be an object");
  assertCollectionName(write.collection);
  assertDocumentId(write.kind === "put" ? (isPlainObject(write.document) ? write.document._id : undefined) : write.id);
}

export function assertIndexKeys(keys: unknown): asserts keys is ViewSort {
  if (!isPlainObject(keys) || Object.keys(keys).length === 0) throw invalidArgument("index keys must name at least one field");
  for (const [field, direction] of Object.entries(keys)) {
    if (field === "" || (direction !== 1 && direction !== -1)) {
      throw invalidArgument(`index key '${field}' must be 1 or -1, got ${String(direction)}`);
    }
  }
}

function invalidArgument(problem: string): ViewStoreError {
  return new ViewStoreError("INVALID_ARGUMENT", problem);
}
