import { indexEntries } from "./index-keys";
import type { ViewDocument, ViewSort } from "./view-store";
import { ViewStoreError } from "./view-store-error";

/** A document's state before and after a commit; `undefined` when it does not exist. */
export interface DocumentChange {
  collection: string;
  id: string;
  before: ViewDocument | undefined;
  after: ViewDocument | undefined;
}

/**
 * A unique index: which document owns each key. A commit is checked against its final state as a whole
 * (two documents of one commit may swap key values; MongoDB checks write by write and would refuse the swap).
 */
export class UniqueIndex {
  private readonly fields: readonly string[];
  private readonly owners = new Map<string, string>();

  constructor(
    private readonly collection: string,
    readonly keys: ViewSort,
  ) {
    this.fields = Object.keys(keys);
  }

  /** Indexes existing documents; throws DUPLICATE_KEY when two of them already share a key, like MongoDB's createIndex. */
  fill(documents: Iterable<ViewDocument>): void {
    for (const document of documents) {
      for (const entry of indexEntries(document, this.fields)) {
        const owner = this.owners.get(entry);
        if (owner !== undefined && owner !== document._id) throw this.duplicate(entry, document._id, owner);
        this.owners.set(entry, document._id);
      }
    }
  }

  /** Throws DUPLICATE_KEY when applying `changes` would leave two documents with one key. */
  assertNoDuplicate(changes: readonly DocumentChange[]): void {
    const changedIds = new Set(changes.map((change) => change.id));
    const entriesOfChanged = new Map<string, string>();
    for (const { id, after } of changes) {
      if (after === undefined) continue;
      for (const entry of indexEntries(after, this.fields)) {
        const otherInCommit = entriesOfChanged.get(entry);
        if (otherInCommit !== undefined && otherInCommit !== id) throw this.duplicate(entry, id, otherInCommit);
        entriesOfChanged.set(entry, id);
        // An owner that this commit also changes keeps the key only if its new state still has it: seen above.
        const owner = this.owners.get(entry);
        if (owner !== undefined && owner !== id && !changedIds.has(owner)) throw this.duplicate(entry, id, owner);
      }
    }
  }

  /** Moves the index to the state after `changes`; call only after `assertNoDuplicate` passed. */
  apply(changes: readonly DocumentChange[]): void {
    // All removals first, so that a key handed from one document to another in the same commit survives.
    for (const { id, before } of changes) {
      if (before === undefined) continue;
      for (const entry of indexEntries(before, this.fields)) {
        if (this.owners.get(entry) === id) this.owners.delete(entry);
      }
    }
    for (const { id, after } of changes) {
      if (after === undefined) continue;
      for (const entry of indexEntries(after, this.fields)) this.owners.set(entry, id);
    }
  }

  private duplicate(entry: string, id: string, owner: string): ViewStoreError {
    return new ViewStoreError(
      "DUPLICATE_KEY",
      `duplicate key in unique index ${describeKeys(this.keys)} of collection '${this.collection}': ` +
        `documents '${owner}' and '${id}' would both have ${this.fields.join(", ")} = ${entry}`,
    );
  }
}

export function describeKeys(keys: ViewSort): string {
  return `{ ${Object.entries(keys).map(([field, direction]) => `${field}: ${direction}`).join(", ")} }`;
}
