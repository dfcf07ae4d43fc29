import { createHash } from "node:crypto";

/** The most characters of a command id (`recq-command-id`) the gateway takes. */
export const MAX_COMMAND_ID_LENGTH = 128;

/**
 * Command ids starting so are the components' own (an observer's, a saga's, a saga step's record): the gateway
 * refuses them from callers, and takes them only over a component's link. Without the reservation, a caller sending
 * a command under an id a component will derive would make the gateway answer the component's command with the
 * caller's recorded outcome: the component's command would never run.
 */
export const RESERVED_COMMAND_ID_PREFIX = "recq:";

/** Characters of the hash that stands for a tail too long to keep: 128 bits in hex. */
const HASH_CHARS = 32;

export function isReservedCommandId(commandId: string): boolean {
  return commandId.startsWith(RESERVED_COMMAND_ID_PREFIX);
}

/**
 * A component's command id, `recq:<kind>:<names joined by ":">:<numbers joined by ":">`, the same for the same input
 * every time. When that is longer than MAX_COMMAND_ID_LENGTH (a long saga name or association value), the names are
 * cut and followed by `~` and a hash of them all, so the id still names them uniquely (for every practical purpose)
 * and the numbers (a position, a send's rank) stay readable at its end.
 */
export function reservedCommandId(kind: string, names: readonly string[], numbers: readonly number[]): string {
  const head = `${RESERVED_COMMAND_ID_PREFIX}${kind}:`;
  const tail = numbers.map((number) => `:${number}`).join("");
  const joined = names.join(":");
  const whole = head + joined + tail;
  if (whole.length <= MAX_COMMAND_ID_LENGTH) return whole;
  // The hash is of the names as a list (JSON), so names that join alike ("a:b" + "c", "a" + "b:c") differ.
  const hash = createHash("sha256").update(JSON.stringify(names)).digest("hex").slice(0, HASH_CHARS);
  const room = MAX_COMMAND_ID_LENGTH - head.length - tail.length - 1 - HASH_CHARS;
  return `${head}${cutAtCharacter(joined, Math.max(0, room))}~${hash}${tail}`;
}

/** The first `length` UTF-16 units of `text`, one fewer when that would split a surrogate pair. */
function cutAtCharacter(text: string, length: number): string {
  if (text.length <= length) return text;
  const last = text.charCodeAt(length - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length);
}
