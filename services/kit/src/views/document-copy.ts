import type { ViewDocument } from "./view-store";
import { ViewStoreError } from "./view-store-error";

/** MongoDB refuses documents nested deeper than this; here it also stops a cyclic value. */
const MAX_NESTING_DEPTH = 100;

/**
 * A deep copy of a document, accepting only what a MongoDB document holds as plain data: numbers, strings,
 * booleans, null, Dates, RegExps, binary (Uint8Array/Buffer), arrays and plain objects.
 *
 * Why not `structuredClone`: it keeps shared references (an object pushed twice would stay one object, and a
 * later in-place update of one element would change both, which BSON never does), and it accepts Maps, Sets,
 * bigints and class instances (a protobuf `Long`) that mingo does not compare the way MongoDB does.
 * Properties whose value is `undefined` are dropped, and `undefined` array elements become null, as BSON does.
 */
export function copyDocument(document: ViewDocument): ViewDocument {
  return copyPlainValue(document, "") as ViewDocument;
}

/** Copies one value of a document or of an update, checking it is plain data; `path` names it in errors. */
export function copyPlainValue(value: unknown, path: string): unknown {
  return copyValue(value, path, 0);
}

function copyValue(value: unknown, path: string, depth: number): unknown {
  if (depth > MAX_NESTING_DEPTH) {
    throw invalid(path, `is nested deeper than ${MAX_NESTING_DEPTH} levels (a cyclic value?)`);
  }
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  if (Array.isArray(value)) {
    return Array.from(value, (element: unknown, index) => copyValue(element ?? null, `${path}.${index}`, depth + 1));
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof RegExp) return new RegExp(value.source, value.flags);
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (isPlainObject(value)) return copyObject(value, path, depth);
  const allowed = "numbers, strings, booleans, null, Dates, arrays, plain objects";
  throw invalid(path, `holds ${describeType(value)}; documents hold plain data (${allowed})`);
}

function copyObject(source: Record<string, unknown>, path: string, depth: number): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (value === undefined) continue;
    // A plain assignment to "__proto__" would replace the copy's prototype instead of adding a field.
    Object.defineProperty(copy, key, {
      value: copyValue(value, path === "" ? key : `${path}.${key}`, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describeType(value: unknown): string {
  if (typeof value === "bigint") return "a bigint (store a plain number)";
  if (typeof value === "object" && value !== null) return `an instance of ${value.constructor?.name ?? "an unknown class"}`;
  return `a ${typeof value}`;
}

function invalid(path: string, problem: string): ViewStoreError {
  return new ViewStoreError("INVALID_WRITE", `the value at '${path === "" ? "(document)" : path}' ${problem}`);
}
