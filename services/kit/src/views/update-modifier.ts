import { isPlainObject } from "./document-copy";
import { ViewStoreError } from "./view-store-error";

/** The update operators MongoDB and mingo share, plus `$setOnInsert`, which this adapter applies itself. */
const UPDATE_OPERATORS = new Set([
  "$addToSet",
  "$bit",
  "$currentDate",
  "$inc",
  "$max",
  "$min",
  "$mul",
  "$pop",
  "$pull",
  "$pullAll",
  "$push",
  "$rename",
  "$set",
  "$setOnInsert",
  "$unset",
]);

/**
 * Checks that `update` is a MongoDB update document (operators only) and returns the modifier to apply.
 * mingo has no `$setOnInsert`: on an insert it joins `$set`, on an existing document it is dropped, as in MongoDB.
 */
export function prepareModifier(update: unknown, inserting: boolean): Record<string, unknown> {
  assertOperatorsOnly(update);
  const { $setOnInsert: onInsert, ...modifier } = update;
  if (!inserting || onInsert === undefined) return modifier;
  return { ...modifier, $set: mergeSetOnInsert(modifier["$set"], onInsert as Record<string, unknown>) };
}

function assertOperatorsOnly(update: unknown): asserts update is Record<string, unknown> {
  if (!isPlainObject(update)) throw invalidWrite("an update must be an object of update operators");
  const operators = Object.keys(update);
  if (operators.length === 0) throw invalidWrite("an update needs at least one update operator ($set, $inc, …)");
  for (const operator of operators) {
    if (!operator.startsWith("$")) {
      throw invalidWrite(`an update holds only update operators, found field '${operator}' (use a put to replace a whole document)`);
    }
    if (!UPDATE_OPERATORS.has(operator)) throw invalidWrite(`unknown update operator '${operator}'`);
    if (!isPlainObject(update[operator])) throw invalidWrite(`the argument of '${operator}' must be an object of field paths`);
  }
}

function mergeSetOnInsert(set: unknown, onInsert: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...(set as Record<string, unknown> | undefined) };
  for (const [path, value] of Object.entries(onInsert)) {
    if (path in merged) throw invalidWrite(`'${path}' is in both $set and $setOnInsert`);
    merged[path] = value;
  }
  return merged;
}

function invalidWrite(problem: string): ViewStoreError {
  return new ViewStoreError("INVALID_WRITE", problem);
}
