import { isPlainObject } from "./document-copy";
import type { ViewDocument } from "./view-store";
import { ViewStoreError } from "./view-store-error";

/**
 * MongoDB rejects an update whose operator does not fit the value it targets (`$inc` on a string, `$push` on a
 * number, a field created inside a string); mingo silently leaves the document as it was, which would hide a
 * projector's bug behind a view that stops changing. These checks restore MongoDB's error. Paths with a
 * positional part (`$`, `$[]`, `$[name]`) are left to mingo.
 */

const NUMERIC_OPERATORS = new Set(["$inc", "$mul", "$bit"]);
const ARRAY_OPERATORS = new Set(["$push", "$addToSet", "$pop", "$pull", "$pullAll"]);
/** Operators that remove or move values never create a field, so a path through a scalar is a no-op for them. */
const NON_CREATING_OPERATORS = new Set(["$unset", "$pull", "$pullAll", "$pop", "$rename"]);

type Target = { found: true; value: unknown } | { found: false; blockedBy?: string };

export function assertUpdateTargets(document: ViewDocument, modifier: Record<string, unknown>): void {
  for (const [operator, argument] of Object.entries(modifier)) {
    for (const path of Object.keys(argument as Record<string, unknown>)) {
      if (path.includes("$")) continue;
      assertTargetFits(operator, path, resolveTarget(document, path.split(".")));
    }
  }
}

function assertTargetFits(operator: string, path: string, target: Target): void {
  if (!target.found) {
    if (target.blockedBy !== undefined && !NON_CREATING_OPERATORS.has(operator)) {
      throw mismatch(`${operator} cannot create '${path}': '${target.blockedBy}' holds a value that is not an object`);
    }
    return;
  }
  if (NUMERIC_OPERATORS.has(operator) && typeof target.value !== "number") {
    throw mismatch(`${operator} cannot apply to '${path}', which holds ${describe(target.value)}, not a number`);
  }
  if (ARRAY_OPERATORS.has(operator) && !Array.isArray(target.value)) {
    throw mismatch(`${operator} cannot apply to '${path}', which holds ${describe(target.value)}, not an array`);
  }
}

/** Walks a dotted path; a numeric segment indexes an array. */
function resolveTarget(document: ViewDocument, segments: readonly string[]): Target {
  let current: unknown = document;
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index] as string;
    const container = childrenOf(current, segment);
    if (container === "blocked") return { found: false, blockedBy: segments.slice(0, index).join(".") };
    if (container === "missing") return { found: false };
    current = container.value;
  }
  return { found: true, value: current };
}

function childrenOf(value: unknown, segment: string): { value: unknown } | "missing" | "blocked" {
  if (Array.isArray(value)) {
    if (!/^\d+$/.test(segment)) return "blocked";
    const index = Number(segment);
    return index < value.length && value[index] !== undefined ? { value: value[index] } : "missing";
  }
  if (isPlainObject(value)) return Object.hasOwn(value, segment) ? { value: value[segment] } : "missing";
  return "blocked";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a Date";
  return `a ${typeof value}`;
}

function mismatch(problem: string): ViewStoreError {
  return new ViewStoreError("INVALID_WRITE", problem);
}
