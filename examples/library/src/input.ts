import { status } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/kit";

/** The longest id, title or author the library takes: enough for any catalogue, small enough for any view. */
export const MAX_FIELD_LENGTH = 200;

/** A name people type (a title, an author): trimmed, then required and bounded. */
export function requiredText(field: string, value: string, maxLength = MAX_FIELD_LENGTH): string {
  const trimmed = value.trim();
  if (trimmed === "") throw new MeshError(status.INVALID_ARGUMENT, `${field} is required`);
  return bounded(field, trimmed, maxLength);
}

/**
 * An id, used exactly as sent: a book id is the routing key the gateway already used, so trimming it here
 * would address another aggregate than the one the command ran on.
 */
export function requiredId(field: string, value: string, maxLength = MAX_FIELD_LENGTH): string {
  if (value === "") throw new MeshError(status.INVALID_ARGUMENT, `${field} is required`);
  return bounded(field, value, maxLength);
}

function bounded(field: string, value: string, maxLength: number): string {
  if (value.length > maxLength) throw new MeshError(status.INVALID_ARGUMENT, `${field} is longer than ${maxLength} characters`);
  return value;
}
