import { MongoInvalidArgumentError } from "mongodb";
import { firstWriteError, isDuplicateKey, isRequestFault, isRequestFaultCode, serverCode, ServerCode } from "@recq-mesh/protocol/mongodb";
import type { WriteRun } from "./mongo-view-writes";
import type { ViewSort } from "./view-store";
import { messageOf, ViewStoreError } from "./view-store-error";

/**
 * The MongoDB view store's failures as `ViewStoreError` codes, so that callers see what the embedded store
 * throws for the same situations. A failure that says the server is unavailable propagates unchanged.
 */

/** A read: the server refusing the filter or the options is INVALID_ARGUMENT. */
export function readFailure(error: unknown, context: string): unknown {
  if (error instanceof ViewStoreError || !isRequestFault(error)) return error;
  return new ViewStoreError("INVALID_ARGUMENT", `${context}: ${messageOf(error)}`, { cause: error });
}

/**
 * A commit: the write a bulk write error points at is named; a duplicate key is DUPLICATE_KEY, any other refusal
 * of a write INVALID_WRITE.
 */
export function commitFailure(error: unknown, failedRun: WriteRun | undefined, describeCommit: string, writeCount: number): unknown {
  if (error instanceof ViewStoreError) return error;
  const writeError = firstWriteError(error);
  const write = writeError === undefined ? undefined : failedRun?.writes[writeError.index];
  if (writeError !== undefined && write !== undefined && (isDuplicateKey(error) || isRequestFaultCode(writeError.code))) {
    const message = `${describeCommit}: write ${write.index + 1} of ${writeCount} (${write.description}): ${writeError.errmsg ?? messageOf(error)}`;
    return new ViewStoreError(isDuplicateKey(error) ? "DUPLICATE_KEY" : "INVALID_WRITE", message, { cause: error });
  }
  if (isDuplicateKey(error)) return new ViewStoreError("DUPLICATE_KEY", `${describeCommit}: ${messageOf(error)}`, { cause: error });
  if (error instanceof MongoInvalidArgumentError || isRequestFault(error)) {
    return new ViewStoreError("INVALID_WRITE", `${describeCommit}: ${messageOf(error)}`, { cause: error });
  }
  return error;
}

/** ensureIndex: the same keys with other options is INDEX_CONFLICT; existing duplicates under a unique index DUPLICATE_KEY. */
export function indexFailure(error: unknown, collection: string, keys: ViewSort): unknown {
  const index = `${JSON.stringify(keys)} of collection '${collection}'`;
  const code = serverCode(error);
  if (code === ServerCode.INDEX_OPTIONS_CONFLICT || code === ServerCode.INDEX_KEY_SPECS_CONFLICT) {
    return new ViewStoreError("INDEX_CONFLICT", `index ${index} already exists with other options: ${messageOf(error)}`, { cause: error });
  }
  if (isDuplicateKey(error)) return new ViewStoreError("DUPLICATE_KEY", `unique index ${index} refused: ${messageOf(error)}`, { cause: error });
  if (isRequestFault(error)) return new ViewStoreError("INVALID_ARGUMENT", `index ${index} refused: ${messageOf(error)}`, { cause: error });
  return error;
}
