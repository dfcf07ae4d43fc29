import { status } from "@grpc/grpc-js";
import { MongoInvalidArgumentError } from "mongodb";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { firstWriteError, isDuplicateKey, isRequestFault, isRequestFaultCode, isUnavailability, serverCode, ServerCode } from "@recq-mesh/protocol/mongodb";
import type { WriteRun } from "./mongo-view-writes";
import type { ViewSort } from "./view-store";
import { messageOf, ViewStoreError } from "./view-store-error";

/**
 * The MongoDB view store's failures as `ViewStoreError` codes, so that callers see what the embedded store
 * throws for the same situations. A failure that says the server is unavailable (`isUnavailability`) becomes a
 * MeshError UNAVAILABLE, reason STORE_UNAVAILABLE, the driver's error its cause: a query then answers UNAVAILABLE,
 * which a caller may retry, and a consumer tries the event again without counting the failure against it (an
 * outage longer than the driver's own retries would otherwise park every event a projection was applying). Any
 * other driver error propagates unchanged.
 */

/** The store's MongoDB is out of reach, or the operation met a transient conflict: try again later. */
export function storeUnavailable(error: unknown, context: string): MeshError {
  return new MeshError(status.UNAVAILABLE, `${context}: the view store's MongoDB is unavailable: ${messageOf(error)}`, Reason.STORE_UNAVAILABLE, { cause: error });
}

/**
 * A read: the server refusing the filter or the options is INVALID_ARGUMENT, its message prefixed with `context`;
 * `operation` names the read when the store is unavailable.
 */
export function readFailure(error: unknown, context: string, operation = context): unknown {
  if (error instanceof ViewStoreError) return error;
  if (isUnavailability(error)) return storeUnavailable(error, operation);
  if (!isRequestFault(error)) return error;
  return new ViewStoreError("INVALID_ARGUMENT", `${context}: ${messageOf(error)}`, { cause: error });
}

/**
 * A commit (`commit` names it: `commit of 'p' at 7`): the write a bulk write error points at is named; a duplicate
 * key is DUPLICATE_KEY, any other refusal of a write INVALID_WRITE. An unavailable store may have applied the commit
 * (a commit whose result is unknown): committing the same position again is safe, as the checkpoint makes it a no-op.
 */
export function commitFailure(error: unknown, failedRun: WriteRun | undefined, commit: string, writeCount: number): unknown {
  if (error instanceof ViewStoreError) return error;
  if (isUnavailability(error)) return storeUnavailable(error, `${commit} may or may not be applied (commit it again)`);
  const describeCommit = `${commit} rejected, nothing applied`;
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
  if (isUnavailability(error)) return storeUnavailable(error, `ensureIndex ${index}`);
  if (isRequestFault(error)) return new ViewStoreError("INVALID_ARGUMENT", `index ${index} refused: ${messageOf(error)}`, { cause: error });
  return error;
}
