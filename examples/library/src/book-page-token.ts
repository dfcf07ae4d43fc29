import { status } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/kit";

/**
 * ListBooks pages in book_id order, so a page ends at a book id and the next page starts after it (keyset paging:
 * no book repeats or is skipped as books are registered or lent). The token is opaque to callers, so that the
 * order can change without breaking them.
 */
export function encodePageToken(lastBookId: string): string {
  return Buffer.from(JSON.stringify({ after: lastBookId })).toString("base64url");
}

/** The book id the previous page ended at. */
export function decodePageToken(token: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  const after = typeof parsed === "object" && parsed !== null ? (parsed as { after?: unknown }).after : undefined;
  if (typeof after !== "string" || after === "") throw invalid();
  return after;
}

function invalid(): MeshError {
  return new MeshError(status.INVALID_ARGUMENT, "page_token is not a token this service gave out");
}
