/**
 * A command accepted with `recq-mode: async`: everything needed to run it later, as the synchronous call would
 * have run, in another process after a crash if need be.
 */
export interface AcceptedCommand {
  commandId: string;
  /** The full method name, `todo.v1.TodoListCommandService/AddTodoItem`. */
  method: string;
  /** The request as the caller sent it. */
  payload: Buffer;
  /** The caller's forwarded `x-` headers. */
  headers: Record<string, string>;
  /** `traceparent` / `tracestate` of the gateway's server span of the acceptance: the execution joins that trace. */
  trace: Record<string, string>;
  /** The caller's `recq-reply-to` metadata, when it sent one: where the outcome is also delivered. */
  replyTo: string | undefined;
  /** Milliseconds since the epoch. */
  acceptedAtMs: number;
}

/** Bytes of memory an accepted command holds, as the inbox's byte limit counts it: payload, strings, and a fixed overhead. */
export function acceptedCommandBytes(command: AcceptedCommand): number {
  let bytes = 256 + command.payload.length + 2 * (command.commandId.length + command.method.length + (command.replyTo?.length ?? 0));
  for (const key in command.headers) bytes += 2 * (key.length + command.headers[key]!.length) + 32;
  for (const key in command.trace) bytes += 2 * (key.length + command.trace[key]!.length) + 32;
  return bytes;
}
