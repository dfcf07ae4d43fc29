import { v7 } from "uuid";

/**
 * A new unique identifier that sorts by creation time: a UUIDv7 (RFC 9562), from the `uuid` library, monotonic
 * within the process. For ids a caller chooses before it sends a command (commands answer only success or failure,
 * so the caller names what it creates), and for command ids.
 */
export function timeOrderedId(): string {
  return v7();
}
