import { isPlainObject } from "./document-copy";
import type { ViewDocument } from "./view-store";

/**
 * The entries a document makes in an index on `fields`, each as one canonical string, as MongoDB builds them:
 * a missing field indexes as null, and an array indexes each of its elements (a multikey index), so a
 * compound index gets one entry per combination. Equal strings mean equal keys; the strings read well in errors.
 */
export function indexEntries(document: ViewDocument, fields: readonly string[]): string[] {
  let combinations: string[][] = [[]];
  for (const field of fields) {
    const values = valuesAtPath(document, field.split("."));
    combinations = combinations.flatMap((prefix) => values.map((value) => [...prefix, canonical(value)]));
  }
  return [...new Set(combinations.map((combination) => `(${combination.join(", ")})`))];
}

function valuesAtPath(value: unknown, segments: readonly string[]): unknown[] {
  const [head, ...rest] = segments;
  if (head === undefined) return leafValues(value);
  if (Array.isArray(value)) {
    if (/^\d+$/.test(head)) return valuesAtPath(value[Number(head)], rest);
    const values = value.flatMap((element: unknown) => valuesAtPath(element, segments));
    return values.length > 0 ? values : [null];
  }
  if (isPlainObject(value)) return valuesAtPath(value[head], rest);
  return [null];
}

function leafValues(value: unknown): unknown[] {
  if (!Array.isArray(value)) return [value ?? null];
  // MongoDB indexes an empty array as one key of its own, distinct from null.
  return value.length > 0 ? value : [EMPTY_ARRAY];
}

const EMPTY_ARRAY = Symbol("empty array");

function canonical(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (value === EMPTY_ARRAY) return "[]";
  if (typeof value === "string") return JSON.stringify(value);
  // -0 and 0 are one key in MongoDB, as in JavaScript's ===.
  if (typeof value === "number") return String(value === 0 ? 0 : value);
  if (typeof value === "boolean") return String(value);
  if (value instanceof Date) return `Date(${value.getTime()})`;
  if (value instanceof RegExp) return String(value);
  if (value instanceof Uint8Array) return `Binary(${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")})`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(", ")}]`;
  if (isPlainObject(value)) {
    // Field order is part of an embedded document's identity in MongoDB, so it is kept.
    return `{${Object.entries(value).map(([key, field]) => `${JSON.stringify(key)}: ${canonical(field)}`).join(", ")}}`;
  }
  return String(value);
}
