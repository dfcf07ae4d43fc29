import { describeKeys, UniqueIndex, type DocumentChange } from "./unique-index";
import type { ViewDocument, ViewSort } from "./view-store";
import { ViewStoreError } from "./view-store-error";

/**
 * One collection of the embedded store: its documents by `_id` and its declared indexes.
 * Stored documents are never mutated: a commit replaces them, so a reader holding one sees a consistent state.
 */
export class ViewCollection {
  private readonly documents = new Map<string, ViewDocument>();
  /** Every declared index by its key specification, to keep `ensureIndex` idempotent and its options consistent. */
  private readonly declaredIndexes = new Map<string, { unique: boolean }>();
  private readonly uniqueIndexes: UniqueIndex[] = [];

  constructor(readonly name: string) {}

  get(id: string): ViewDocument | undefined {
    return this.documents.get(id);
  }

  all(): IterableIterator<ViewDocument> {
    return this.documents.values();
  }

  /**
   * Declares an index. A non-unique one changes nothing: every find scans the collection through mingo, which
   * cannot use a secondary index, and at embedded sizes (development, tests, a replay on each start) a scan
   * costs less than keeping another structure in step with every write. A unique one is enforced on commit.
   */
  ensureIndex(keys: ViewSort, unique: boolean): void {
    const signature = describeKeys(keys);
    const declared = this.declaredIndexes.get(signature);
    if (declared !== undefined) {
      if (declared.unique === unique) return;
      throw new ViewStoreError(
        "INDEX_CONFLICT",
        `index ${signature} of collection '${this.name}' already exists with unique: ${declared.unique}`,
      );
    }
    if (unique) this.addUniqueIndex(keys);
    this.declaredIndexes.set(signature, { unique });
  }

  /** Throws DUPLICATE_KEY when `changes` (all of this collection) would violate a unique index. */
  assertUnique(changes: readonly DocumentChange[]): void {
    for (const index of this.uniqueIndexes) index.assertNoDuplicate(changes);
  }

  /** Makes `changes` visible; call only after `assertUnique` passed. */
  apply(changes: readonly DocumentChange[]): void {
    for (const index of this.uniqueIndexes) index.apply(changes);
    for (const { id, after } of changes) {
      if (after === undefined) this.documents.delete(id);
      else this.documents.set(id, after);
    }
  }

  private addUniqueIndex(keys: ViewSort): void {
    const index = new UniqueIndex(this.name, keys);
    index.fill(this.documents.values());
    this.uniqueIndexes.push(index);
  }
}
