import { status, Metadata } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import { MeshError, Reason, injectTraceContext } from "@recq-mesh/protocol";
import { randomUUID } from "node:crypto";
import type { CommandPipeline } from "../commands/command-pipeline";
import type { MethodEntry } from "../descriptors/descriptor-catalog";
import { acceptedAck } from "../outcomes/outcome-messages";
import type { AcceptedExecutor } from "./accepted-executor";

/** Caller metadata that asks for acceptance: `recq-mode: async`. Absent, empty or `sync`: the command runs in the call. */
export const MODE_METADATA = "recq-mode";
/** Response header of an acceptance: `accepted` (recorded, or already waiting), or `succeeded` for a repeat of a command already executed. */
export const OUTCOME_HEADER = "recq-outcome";

/** Whether the caller asked for acceptance; an unknown mode is refused rather than guessed at. */
export function isAcceptRequested(mode: string | undefined): boolean {
  if (mode === undefined || mode === "" || mode === "sync") return false;
  if (mode === "async") return true;
  throw new MeshError(status.INVALID_ARGUMENT, `${MODE_METADATA} must be "async" or "sync", not "${mode.slice(0, 40)}"`, Reason.INVALID_REQUEST);
}

export interface AcceptanceRequest {
  method: MethodEntry;
  aggregateType: string;
  payload: Buffer;
  commandId: string | undefined;
  headers: Record<string, string>;
  replyTo: string | undefined;
  /** The gateway's server span of the call: the execution joins its trace. */
  traceContext: Context;
}

/**
 * Accepts a command: checks what can be checked now (as the pipeline would: routing key, command id, payload),
 * records it durably in the inbox, and answers with the CommandAck (position and sequence 0) and the response
 * header to send. Credentials and the request's size were checked before, as for every command.
 */
export async function acceptCommand(
  pipeline: CommandPipeline,
  executor: AcceptedExecutor | undefined,
  request: AcceptanceRequest,
): Promise<{ ack: Buffer; header: Metadata }> {
  if (executor === undefined) {
    throw new MeshError(status.UNIMPLEMENTED, "this gateway runs without an accepted-command inbox: send the command without recq-mode", Reason.INVALID_REQUEST);
  }
  const aggregateId = pipeline.check(request.method, request.payload, request.commandId);
  const commandId = request.commandId || randomUUID();
  const answer = await executor.accept(request.method, request.aggregateType, aggregateId, {
    commandId,
    method: request.method.name,
    payload: request.payload,
    headers: request.headers,
    trace: injectTraceContext(request.traceContext, {}),
    replyTo: request.replyTo || undefined,
    acceptedAtMs: Date.now(),
  });
  const header = new Metadata();
  header.set(OUTCOME_HEADER, answer.kind);
  return { ack: answer.kind === "succeeded" ? answer.ack : acceptedAck(commandId), header };
}
