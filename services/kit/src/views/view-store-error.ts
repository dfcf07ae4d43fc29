/**
 * Why a view store call failed. Every adapter throws these codes for the same situations, so projector and
 * query handler code can tell them apart (a MongoDB adapter maps the driver's E11000 to `DUPLICATE_KEY`).
 */
export type ViewStoreErrorCode =
  /** A malformed call: a bad collection or consumer name, position, filter, sort, skip or limit. */
  | "INVALID_ARGUMENT"
  /** A write that cannot apply: unknown or misused update operator, wrong operand type, changed `_id`, non-plain value. */
  | "INVALID_WRITE"
  /** A write would make two documents share the key values of a unique index. */
  | "DUPLICATE_KEY"
  /** The same index keys were declared again with different options. */
  | "INDEX_CONFLICT"
  /** A documented limit of the adapter was exceeded. */
  | "LIMIT_EXCEEDED"
  /** The store was closed. */
  | "CLOSED";

export class ViewStoreError extends Error {
  override readonly name = "ViewStoreError";

  constructor(
    readonly code: ViewStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The message of anything thrown, for wrapping it into a message with more context. */
export function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}
