import { status } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/kit";

/** Where a page ended: the sort value and id of its last document, and the order it was read in. */
export interface PageCursor {
  sort: string;
  descending: boolean;
  value: string | number;
  id: string;
}

/** Opaque to callers: base64url of a small JSON. Keyset paging, so a page never repeats or skips a list. */
export function encodePageToken(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.sort, cursor.descending ? 1 : 0, cursor.value, cursor.id])).toString("base64url");
}

export function decodePageToken(token: string, sort: string, descending: boolean): PageCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw invalid();
  const [tokenSort, tokenDescending, value, id] = parsed as unknown[];
  if (typeof tokenSort !== "string" || (typeof value !== "string" && typeof value !== "number") || typeof id !== "string") throw invalid();
  if (tokenSort !== sort || (tokenDescending === 1) !== descending) {
    throw new MeshError(status.INVALID_ARGUMENT, "page_token was made for another sort order: send the same sort and descending as for the first page");
  }
  return { sort, descending, value, id };
}

function invalid(): MeshError {
  return new MeshError(status.INVALID_ARGUMENT, "page_token is not a token this service gave out");
}
