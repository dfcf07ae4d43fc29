import { isPlainObject } from "./document-copy";
import { ViewStoreError } from "./view-store-error";

/** Operators that would run JavaScript on the server. */
const SCRIPT_OPERATORS = new Set(["$where", "$function", "$accumulator"]);
const MAX_DEPTH = 100;

/**
 * Refuses a filter that would run code on the server. Filters are data that may come from a query's request,
 * so scripts are off, as in the embedded store (mingo's `scriptEnabled: false`); MongoDB 8 deprecates them too.
 */
export function assertNoScripts(filter: unknown): void {
  visit(filter, 0);
}

function visit(value: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new ViewStoreError("INVALID_ARGUMENT", `a filter is nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (const element of value) visit(element, depth + 1);
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [key, nested] of Object.entries(value)) {
    if (SCRIPT_OPERATORS.has(key)) {
      throw new ViewStoreError("INVALID_ARGUMENT", `a filter may not use ${key}: filters may come from requests, so script operators are off (scriptEnabled: false)`);
    }
    visit(nested, depth + 1);
  }
}
