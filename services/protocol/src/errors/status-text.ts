/**
 * What a status may carry to a caller. A status travels in HTTP/2 trailers (`grpc-message`, `recq-reason`), and a
 * client refuses trailers above its metadata limit (grpc-js: 8 KiB by default): an unbounded message — a handler
 * echoing a caller's 140,000-character id — either fails that call with the wrong status or makes the client's
 * HTTP/2 stack drop the whole connection, failing every other call on it.
 */

/** Bytes of a status message, UTF-8, at the most; a longer one is cut and says so. */
export const MAX_STATUS_MESSAGE_BYTES = 1024;

/** A reason is an upper-case name: `DOMAIN_RULE`, `QUEUE_FULL`. */
const REASON_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** `message`, or its first MAX_STATUS_MESSAGE_BYTES bytes (cut between characters) with a note of the cut. */
export function boundedStatusMessage(message: string): string {
  return boundedText(message, MAX_STATUS_MESSAGE_BYTES);
}

/**
 * `text` when it is at most `maxBytes` bytes of UTF-8; else its first characters and a note of the cut
 * (` … (N bytes, cut at maxBytes)`), `maxBytes` bytes at the most in all (the note alone when it leaves no room).
 */
export function boundedText(text: string, maxBytes: number): string {
  // Fast path: a string of n UTF-16 units is at most 3n bytes.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes) return text;
  const note = ` … (${bytes} bytes, cut at ${maxBytes})`;
  const room = Math.max(0, maxBytes - Buffer.byteLength(note));
  let cut = Buffer.from(text).subarray(0, room).toString("utf8");
  // A character split by the cut decodes to U+FFFD at the end: drop it.
  if (cut.endsWith("\uFFFD")) cut = cut.slice(0, -1);
  return cut + note;
}

/** Whether a reason may travel as `recq-reason` as it is (a handler in any language may send one). */
export function isWellFormedReason(reason: string): boolean {
  return REASON_PATTERN.test(reason);
}
