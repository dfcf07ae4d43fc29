import { isPlainObject } from "./document-copy";

/**
 * Whether two values of stored documents are the same data: what `util.isDeepStrictEqual` answers for the
 * plain data a document holds (see `copyDocument`), without its general machinery — every commit compares
 * each written document with what it replaces, so this runs on whole documents at commit rate.
 * Field order does not matter; NaN equals NaN and 0 differs from -0 (Object.is); a Buffer differs from a
 * Uint8Array with the same bytes.
 */
export function sameDocumentValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && sameArrays(a, b);
  if (Array.isArray(b)) return false;
  if (isPlainObject(a)) return isPlainObject(b) && sameObjects(a, b);
  if (a instanceof Date) return b instanceof Date && Object.is(a.getTime(), b.getTime());
  if (a instanceof RegExp) return b instanceof RegExp && a.source === b.source && a.flags === b.flags;
  if (a instanceof Uint8Array) {
    return b instanceof Uint8Array && Buffer.isBuffer(a) === Buffer.isBuffer(b) && Buffer.compare(a, b) === 0;
  }
  return false;
}

function sameArrays(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) {
    if (!sameDocumentValue(a[index], b[index])) return false;
  }
  return true;
}

function sameObjects(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  // for-in with own-property checks instead of Object.keys: no key arrays allocated per object.
  let keys = 0;
  for (const key in a) {
    if (!hasOwn(a, key)) continue;
    keys += 1;
    if (!hasOwn(b, key) || !sameDocumentValue(a[key], b[key])) return false;
  }
  for (const key in b) {
    if (hasOwn(b, key)) keys -= 1;
  }
  return keys === 0;
}

function hasOwn(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}
