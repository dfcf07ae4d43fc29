/** Options of one command or unary query an Invoker sends. */
export interface InvokeOptions {
  /** `recq-command-id`: a retry with the same id gets the first outcome, not a second execution. */
  commandId?: string;
  /** `recq-consistency-token` (a CommandAck's `position`): the query waits until its projection has reached it. */
  consistencyToken?: string;
  /** Application headers (`x-…`) for the handler. */
  headers?: Record<string, string>;
  /** The call's deadline from now. Default 30 s for a command or a unary query. */
  timeoutMs?: number;
  /**
   * `async`: the command is accepted (`recq-mode: async`, docs/async-flows.md): the gateway records it and answers at
   * once with a CommandAck of position 0; it runs later, and its outcome is kept by command id. Over a gateway
   * client only.
   */
  mode?: "sync" | "async";
  /** Ends the call when aborted: it fails with CANCELLED. */
  signal?: AbortSignal;
}

/** Options of a server-streaming query (a subscription). */
export interface StreamOptions {
  /** `recq-consistency-token`: the subscription starts once its projection has reached this position. */
  consistencyToken?: string;
  /** Application headers (`x-…`) for the handler. */
  headers?: Record<string, string>;
  /** The subscription's deadline from its start; default none (it lasts until it ends or is aborted). */
  timeoutMs?: number;
  /** Ends the subscription when aborted: the iteration then ends without an error. */
  signal?: AbortSignal;
}

/** Default deadline of a command or unary query. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 30_000;
