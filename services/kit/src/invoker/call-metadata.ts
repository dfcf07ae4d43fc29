import { context } from "@opentelemetry/api";
import { injectTraceContext } from "@recq-mesh/protocol";
import type { InvokeOptions, StreamOptions } from "./invoke-options";

/** The bearer token of a caller, or a function that gives the current one (read at each call: a rotated token is used). */
export type CallerToken = string | (() => string | Promise<string>);

/**
 * The metadata of one call to the gateway: the application headers, the mesh's own (`recq-command-id`,
 * `recq-consistency-token`, `recq-mode`), the caller's token and the active trace context.
 */
export async function callMetadata(options: InvokeOptions & StreamOptions, token: CallerToken | undefined): Promise<Record<string, string>> {
  const headers = injectTraceContext(context.active(), { ...options.headers });
  if (options.commandId) headers["recq-command-id"] = options.commandId;
  if (options.consistencyToken) headers["recq-consistency-token"] = options.consistencyToken;
  if (options.mode === "async") headers["recq-mode"] = "async";
  const bearer = typeof token === "function" ? await token() : token;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  return headers;
}
