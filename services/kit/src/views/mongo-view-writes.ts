import type { AnyBulkWriteOperation, UpdateFilter } from "mongodb";
import { copyDocument, copyPlainValue } from "./document-copy";
import type { ViewRecord } from "./mongo-view-documents";
import { prepareModifier } from "./update-modifier";
import type { ViewWrite } from "./view-store";
import { assertWriteTarget } from "./view-store-arguments";
import { messageOf, ViewStoreError } from "./view-store-error";

/** One write of a commit, checked and ready for a bulk write. */
export interface PreparedWrite {
  /** Its index in the commit's writes. */
  index: number;
  /** For messages: `put lists/l1`. */
  description: string;
  operation: AnyBulkWriteOperation<ViewRecord>;
}

/** Consecutive writes to one collection: one ordered bulk write, one round trip. */
export interface WriteRun {
  collection: string;
  writes: PreparedWrite[];
}

/**
 * Checks every write of a commit before anything is sent, with the embedded store's rules and messages (plain data
 * only, update documents of known operators only, `undefined` fields dropped), and turns it into its MongoDB
 * operation: `put` → replaceOne with upsert, `update` → updateOne (upsert as asked), `delete` → deleteOne. What
 * only the server can judge (an operator on the wrong type, a changed `_id`) fails in the transaction instead.
 * The values are copies, so a caller changing its objects afterwards changes nothing.
 */
export function prepareWrites(writes: readonly ViewWrite[], describeCommit: string): WriteRun[] {
  const runs: WriteRun[] = [];
  writes.forEach((write, index) => {
    const description = describeWrite(write);
    let operation: AnyBulkWriteOperation<ViewRecord>;
    try {
      assertWriteTarget(write);
      operation = operationOf(write);
    } catch (error: unknown) {
      const code = error instanceof ViewStoreError ? error.code : "INVALID_WRITE";
      throw new ViewStoreError(code, `${describeCommit}: write ${index + 1} of ${writes.length} (${description}): ${messageOf(error)}`, { cause: error });
    }
    const last = runs.at(-1);
    if (last !== undefined && last.collection === write.collection) last.writes.push({ index, description, operation });
    else runs.push({ collection: write.collection, writes: [{ index, description, operation }] });
  });
  return runs;
}

function operationOf(write: ViewWrite): AnyBulkWriteOperation<ViewRecord> {
  switch (write.kind) {
    case "put": {
      const document = copyDocument(write.document);
      const operatorLike = Object.keys(document).find((field) => field.startsWith("$"));
      if (operatorLike !== undefined) throw new ViewStoreError("INVALID_WRITE", `a document's top-level field may not start with '$' ('${operatorLike}')`);
      return { replaceOne: { filter: { _id: write.document._id }, replacement: document, upsert: true } };
    }
    case "update": {
      prepareModifier(write.update, false);
      const update = copyPlainValue(write.update, "update") as UpdateFilter<ViewRecord>;
      return { updateOne: { filter: { _id: write.id }, update, upsert: write.upsert === true } };
    }
    case "delete":
      return { deleteOne: { filter: { _id: write.id } } };
    default:
      throw new ViewStoreError("INVALID_WRITE", `unknown write kind '${String((write as { kind: unknown }).kind)}'`);
  }
}

function describeWrite(write: ViewWrite): string {
  if (typeof write !== "object" || write === null) return String(write);
  const id = write.kind === "put" ? write.document?._id : write.id;
  return `${String(write.kind)} ${String(write.collection)}/${String(id)}`;
}
