import { copyDocument, copyPlainValue } from "./document-copy";
import { sameDocumentValue } from "./document-equality";
import { tryFastUpdate } from "./fast-update";
import { applyUpdateOperators } from "./mingo-bridge";
import type { DocumentChange } from "./unique-index";
import { prepareModifier } from "./update-modifier";
import { assertUpdateTargets } from "./update-target-checks";
import type { ViewDocument, ViewWrite } from "./view-store";
import { ViewStoreError } from "./view-store-error";

/** Reads a committed document; the stage never mutates what it returns. */
export type CommittedReader = (collection: string, id: string) => ViewDocument | undefined;

/**
 * The writes of one commit, applied in order to copies. Nothing is visible to readers until the store applies
 * `changes()`, so a write that throws leaves the store as it was.
 */
export class CommitStage {
  /** By collection and id, in the order documents were first written. */
  private readonly staged = new Map<string, DocumentChange>();

  constructor(private readonly readCommitted: CommittedReader) {}

  apply(write: ViewWrite): void {
    switch (write.kind) {
      case "put":
        return this.put(write.collection, write.document);
      case "update":
        return this.update(write.collection, write.id, write.update, write.upsert === true);
      case "delete":
        return this.stage(write.collection, write.id, undefined);
      default:
        throw new ViewStoreError("INVALID_WRITE", `unknown write kind '${(write as { kind: unknown }).kind}'`);
    }
  }

  /** The documents whose state differs after the commit: what unique indexes check and watchers hear about. */
  changes(): DocumentChange[] {
    return [...this.staged.values()].filter((change) => !sameDocumentValue(change.before, change.after));
  }

  private put(collection: string, document: ViewDocument): void {
    const copy = copyDocument(document);
    this.stage(collection, document._id, copy);
  }

  private update(collection: string, id: string, update: Record<string, unknown>, upsert: boolean): void {
    const current = this.current(collection, id);
    const inserting = current === undefined;
    const modifier = copyPlainValue(prepareModifier(update, inserting), "update") as Record<string, unknown>;
    // mingo does not insert by itself: an upsert starts from `{ _id }`. A missing document without upsert is
    // still updated on a scratch copy, so a malformed update rejects whether or not the document exists.
    const next: ViewDocument = current === undefined ? { _id: id } : copyDocument(current);
    assertUpdateTargets(next, modifier);
    if (!tryFastUpdate(next, modifier)) applyUpdateOperators(next, modifier);
    if (inserting && !upsert) return;
    if (next._id !== id) throw new ViewStoreError("INVALID_WRITE", `an update may not change _id ('${id}')`);
    this.stage(collection, id, next);
  }

  private current(collection: string, id: string): ViewDocument | undefined {
    const staged = this.staged.get(stageKey(collection, id));
    return staged === undefined ? this.readCommitted(collection, id) : staged.after;
  }

  private stage(collection: string, id: string, after: ViewDocument | undefined): void {
    const key = stageKey(collection, id);
    const earlier = this.staged.get(key);
    const before = earlier === undefined ? this.readCommitted(collection, id) : earlier.before;
    this.staged.set(key, { collection, id, before, after });
  }
}

function stageKey(collection: string, id: string): string {
  // NUL cannot occur in a collection name (checked on entry), so the key is unambiguous.
  return `${collection}\u0000${id}`;
}
