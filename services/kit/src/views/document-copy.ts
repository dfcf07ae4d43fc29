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
  return copyValue(value, path === "" ? [] : [path], 0);
}

// Hot: every view read and write copies whole documents. So: plain assignments (defineProperty only for
// "__proto__"), indexed loops, and the path kept as a stack that is joined only when a value is refused.
function copyValue(value: unknown, at: (string | number)[], depth: number): unknown {
  if (depth > MAX_NESTING_DEPTH) {
    throw invalid(at, `is nested deeper than ${MAX_NESTING_DEPTH} levels (a cyclic value?)`);
  }
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return copyArray(value, at, depth);
  if (isPlainObject(value)) return copyObject(value, at, depth);
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof RegExp) return new RegExp(value.source, value.flags);
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  const allowed = "numbers, strings, booleans, null, Dates, arrays, plain objects";
  throw invalid(at, `holds ${describeType(value)}; documents hold plain data (${allowed})`);
}

function copyArray(source: unknown[], at: (string | number)[], depth: number): unknown[] {
  const copy = new Array<unknown>(source.length);
  for (let index = 0; index < source.length; index++) {
    at.push(index);
    copy[index] = copyValue(source[index] ?? null, at, depth + 1);
    at.pop();
  }
  return copy;
}

function copyObject(source: Record<string, unknown>, at: (string | number)[], depth: number): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in source) {
    if (!Object.prototype.hasOwnProperty.call(source, key)) continue;
    const value = source[key];
    if (value === undefined) continue;
    at.push(key);
    const copied = copyValue(value, at, depth + 1);
    at.pop();
    if (key === "__proto__") {
      // A plain assignment to "__proto__" would replace the copy's prototype instead of adding a field.
      Object.defineProperty(copy, key, { value: copied, enumerable: true, writable: true, configurable: true });
    } else {
      copy[key] = copied;
    }
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

function invalid(at: (string | number)[], problem: string): ViewStoreError {
  return new ViewStoreError("INVALID_WRITE", `the value at '${at.length === 0 ? "(document)" : at.join(".")}' ${problem}`);
}
