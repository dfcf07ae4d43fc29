import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { isDeepStrictEqual } from "node:util";
import { copyDocument, copyPlainValue } from "@recq-mesh/kit/internal/views/document-copy";
import { sameDocumentValue } from "@recq-mesh/kit/internal/views/document-equality";

describe("copyDocument", () => {
  it("copies deeply: the copy shares no object with the original", () => {
    const original = { _id: "x", items: [{ itemId: "a", tags: ["t"] }], at: new Date(3), bytes: Buffer.from([1, 2]) };
    const copy = copyDocument(original);
    assert.deepEqual(copy, original);
    (copy["items"] as { tags: string[] }[])[0]!.tags.push("u");
    (copy["bytes"] as Buffer)[0] = 9;
    assert.deepEqual(original.items[0]!.tags, ["t"]);
    assert.equal(original.bytes[0], 1);
    assert.notEqual(copy["at"], original.at);
  });

  it("keeps a field named __proto__ as a field, not as the copy's prototype", () => {
    const original = JSON.parse('{"_id":"x","__proto__":{"polluted":true}}') as Record<string, unknown>;
    const copy = copyDocument(original as { _id: string });
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.deepEqual(Object.keys(copy), ["_id", "__proto__"]);
    assert.equal((copy as Record<string, unknown>)["polluted"], undefined);
  });

  it("names the path of a refused value, through arrays and objects", () => {
    assert.throws(() => copyDocument({ _id: "x", items: [{ ok: 1 }, { when: 5n }] }), { code: "INVALID_WRITE", message: /'items\.1\.when' holds a bigint/ });
    assert.throws(() => copyPlainValue({ $set: { tags: [new Map()] } }, "update"), { code: "INVALID_WRITE", message: /'update\.\$set\.tags\.0' holds an instance of Map/ });
    assert.throws(() => copyDocument({ _id: "x", list: [Symbol("s")] }), { code: "INVALID_WRITE", message: /'list\.0' holds a symbol/ });
  });

  it("stops at the nesting limit of 100 levels below the document, or below an update", () => {
    const nest = (levels: number): unknown => (levels === 0 ? 1 : { inner: nest(levels - 1) });
    // `deep` is one level down, so nest(99) puts its value at level 100 and nest(100) at level 101.
    assert.doesNotThrow(() => copyDocument({ _id: "x", deep: nest(99) }));
    assert.throws(() => copyDocument({ _id: "x", deep: nest(100) }), { code: "INVALID_WRITE", message: /nested deeper than 100/ });
    assert.doesNotThrow(() => copyPlainValue({ $set: nest(99) }, "update"));
    assert.throws(() => copyPlainValue({ $set: nest(100) }, "update"), { code: "INVALID_WRITE", message: /'update\.\$set\.inner.*nested deeper than 100/ });
  });
});

describe("sameDocumentValue", () => {
  const cases: [unknown, unknown][] = [
    [{ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }],
    [{ a: 1 }, { a: 1, b: null }],
    [{ a: [1, 2] }, { a: [2, 1] }],
    [{ a: [1] }, { a: { 0: 1 } }],
    [{ a: NaN }, { a: NaN }],
    [{ a: 0 }, { a: -0 }],
    [{ a: "1" }, { a: 1 }],
    [{ a: null }, { a: {} }],
    [{ a: new Date(1) }, { a: new Date(1) }],
    [{ a: new Date(1) }, { a: new Date(2) }],
    [{ a: new Date(1) }, { a: 1 }],
    [{ a: /x/g }, { a: /x/g }],
    [{ a: /x/g }, { a: /x/i }],
    [{ a: Buffer.from([1]) }, { a: Buffer.from([1]) }],
    [{ a: Buffer.from([1]) }, { a: Buffer.from([2]) }],
    [{ a: Buffer.from([1]) }, { a: new Uint8Array([1]) }],
    [{ a: new Uint8Array([1, 2]) }, { a: new Uint8Array([1, 2]) }],
    [{ a: { b: { c: [true, false] } } }, { a: { b: { c: [true, false] } } }],
    [{ a: { b: { c: [true, false] } } }, { a: { b: { c: [true, true] } } }],
    [undefined, { a: 1 }],
    [undefined, undefined],
  ];
  for (const [a, b] of cases) {
    it(`answers as isDeepStrictEqual for ${show(a)} and ${show(b)}`, () => {
      assert.equal(sameDocumentValue(a, b), isDeepStrictEqual(a, b));
      assert.equal(sameDocumentValue(b, a), isDeepStrictEqual(b, a));
    });
  }

  it("finds a change deep in a large document", () => {
    const items = Array.from({ length: 300 }, (_, i) => ({ itemId: `i${i}`, completed: false }));
    const before = { _id: "l", items, version: 1 };
    const after = copyDocument(before) as typeof before;
    assert.equal(sameDocumentValue(before, after), true);
    after.items[299]!.completed = true;
    assert.equal(sameDocumentValue(before, after), false);
  });
});

function show(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v)) ?? "undefined";
}
