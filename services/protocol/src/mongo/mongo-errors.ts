import { MongoBulkWriteError, MongoError, MongoNetworkError, MongoServerError, MongoServerSelectionError, type WriteError } from "mongodb";

/**
 * Reading the MongoDB driver's errors, in one place for both stores. Codes from the server's error_codes.yml
 * (github.com/mongodb/mongo, src/mongo/base/error_codes.yml).
 */
export const ServerCode = {
  NAMESPACE_NOT_FOUND: 26,
  INDEX_NOT_FOUND: 27,
  NAMESPACE_EXISTS: 48,
  INDEX_OPTIONS_CONFLICT: 85,
  INDEX_KEY_SPECS_CONFLICT: 86,
  CHANGE_STREAM_HISTORY_LOST: 286,
} as const;

/** DuplicateKey, and the codes older servers used for it. */
const DUPLICATE_KEY_CODES = new Set([11000, 11001, 12582]);

/**
 * Codes that say the server, the network or the replica set is not available right now, or that the operation
 * collided with another one: worth a retry later, never the caller's fault.
 */
const UNAVAILABILITY_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  13, // Unauthorized
  18, // AuthenticationFailed
  24, // LockTimeout
  43, // CursorNotFound
  46, // LockBusy
  50, // MaxTimeMSExpired
  63, // StaleShardVersion
  64, // WriteConcernFailed: a majority did not acknowledge within wtimeout
  89, // NetworkTimeout
  91, // ShutdownInProgress
  112, // WriteConflict
  133, // FailedToSatisfyReadPreference
  134, // ReadConcernMajorityNotAvailableYet
  150, // StaleEpoch
  189, // PrimarySteppedDown
  202, // NetworkInterfaceExceededTimeLimit
  234, // RetryChangeStream
  237, // CursorKilled
  251, // NoSuchTransaction
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11601, // Interrupted
  11602, // InterruptedDueToReplStateChange
  13388, // StaleConfig
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** The server's error code, when `error` came from the server. */
export function serverCode(error: unknown): number | undefined {
  return error instanceof MongoServerError && typeof error.code === "number" ? error.code : undefined;
}

/** The first write error of a failed bulk write (`insertMany`, `bulkWrite`): its `index` names the operation. */
export function firstWriteError(error: unknown): WriteError | undefined {
  if (!(error instanceof MongoBulkWriteError)) return undefined;
  const errors: readonly WriteError[] = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors as WriteError];
  return errors[0];
}

/** A unique index refused a write (E11000), reported for the command or for one operation of a bulk write. */
export function isDuplicateKey(error: unknown): boolean {
  const writeError = firstWriteError(error);
  if (writeError !== undefined) return DUPLICATE_KEY_CODES.has(writeError.code);
  const code = serverCode(error);
  return code !== undefined && DUPLICATE_KEY_CODES.has(code);
}

/**
 * The server refused what it was asked (a malformed filter, an update that does not fit the document) rather
 * than being unavailable: a server error with no label (labels mark transient and retryable errors) and no code
 * of unavailability. Network and driver errors are never request faults.
 */
export function isRequestFault(error: unknown): boolean {
  if (!(error instanceof MongoServerError) || error.errorLabels.length > 0) return false;
  const code = serverCode(error);
  return code === undefined || !UNAVAILABILITY_CODES.has(code);
}

/**
 * The server, the network or the replica set is not available now, or the operation collided with another one:
 * nothing is wrong with the request, and the same call may succeed later. The driver's network and server
 * selection failures (no primary within `serverSelectionTimeoutMS`), a labelled error (labels mark transient and
 * retryable errors: TransientTransactionError, UnknownTransactionCommitResult, RetryableWriteError…), or a code of
 * unavailability. What a caller retries without counting it against the request.
 */
export function isUnavailability(error: unknown): boolean {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  if (!(error instanceof MongoError)) return false;
  if (error.errorLabels.length > 0) return true;
  return typeof error.code === "number" && UNAVAILABILITY_CODES.has(error.code);
}

/** The same judgement for one write error of a bulk write, by its code. */
export function isRequestFaultCode(code: number): boolean {
  return !UNAVAILABILITY_CODES.has(code);
}
