import type { MatchRange } from "./mingo-bridge";
import type { FindOptions, ViewSort } from "./view-store";
import { ViewStoreError } from "./view-store-error";

export interface PlannedFind extends MatchRange {
  /** Whether the caller gave a limit; without one, matching more than the maximum rejects instead of truncating. */
  limited: boolean;
}

/**
 * Turns a find's options into the range to read. `limit: 0` means no limit, as in MongoDB (and a proto3
 * page size left unset is 0). Without a limit it takes one more than `maxResults`, to notice a find that
 * matches too many. The sort always ends with `_id`, so documents that tie on the requested keys come in
 * one stable order and skip/limit pages visit each document exactly once.
 */
export function planFind(options: FindOptions | undefined, maxResults: number): PlannedFind {
  const skip = nonNegativeInteger("skip", options?.skip ?? 0);
  const limit = nonNegativeInteger("limit", options?.limit ?? 0);
  if (limit > maxResults) {
    const problem = `find limit ${limit} is above the store's maximum of ${maxResults} documents: page with skip`;
    throw new ViewStoreError("LIMIT_EXCEEDED", problem);
  }
  const limited = limit > 0;
  return { sort: withIdTieBreak(options?.sort ?? {}), skip, take: limited ? limit : maxResults + 1, limited };
}

function withIdTieBreak(sort: ViewSort): ViewSort {
  for (const [field, direction] of Object.entries(sort)) {
    if (field === "" || (direction !== 1 && direction !== -1)) {
      throw new ViewStoreError("INVALID_ARGUMENT", `sort on '${field}' must be 1 or -1, got ${String(direction)}`);
    }
  }
  return "_id" in sort ? sort : { ...sort, _id: 1 };
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ViewStoreError("INVALID_ARGUMENT", `find ${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}
