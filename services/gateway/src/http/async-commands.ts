import { create, fromBinary, fromJsonString, toBinary, toJsonString, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { MODE_METADATA, OUTCOME_HEADER } from "../accepted/acceptance";
import type { DescriptorCatalog } from "../descriptors/descriptor-catalog";
import { OUTCOME_SERVICE_NAME } from "../outcomes/outcome-service";
import { admitted, type ConnectRouteDeps } from "./connect-routes";
import { headerOf, readBody, sendError, sendJson, type HttpRequest, type HttpResponse } from "./http-answers";
import { metadataOf } from "./http-server-call";
import { invokeUnary } from "./served-call";

/** Where an accepted command's outcome is polled: `GET /recq/v1/outcomes/<command id>`. */
export const OUTCOMES_PREFIX = "/recq/v1/outcomes/";
const GET_OUTCOME_PATH = `/${OUTCOME_SERVICE_NAME}/GetOutcome`;
/** How long a poller is told to wait between polls (Retry-After, seconds). */
const POLL_AFTER_SECONDS = 1;

export interface AsyncCommandDeps extends Pick<ConnectRouteDeps, "served" | "admission" | "admissionKind"> {
  catalog: DescriptorCatalog;
  registry: FileRegistry;
  maxRequestBytes: number;
}

/** Whether an HTTP caller asks for the command to be accepted and answered at once: `Prefer: respond-async` (RFC 7240). */
export function prefersAsync(request: HttpRequest): boolean {
  const prefer = headerOf(request, "prefer");
  return prefer !== undefined && /(^|[\s,;])respond-async($|[\s,;])/i.test(prefer);
}

/**
 * A command sent with `Prefer: respond-async`: accepted as `recq-mode: async` is (accepted/acceptance.ts: checked,
 * recorded durably, run in the background) and answered `202 Accepted` with `Location: /recq/v1/outcomes/<id>`
 * and the CommandAck (in the request's encoding, JSON or binary). A repeat of a command already executed is
 * answered `200` with its ack, the same Location. Returns false when the path is not a command's.
 */
export async function acceptAsync(request: HttpRequest, response: HttpResponse, path: string, deps: AsyncCommandDeps): Promise<boolean> {
  const method = deps.catalog.methodByPath(path);
  const served = deps.served(path);
  if (method === undefined || method.kind !== "command" || served === undefined) return false;
  const input = deps.registry.getMessage(method.requestType);
  const ackType = deps.registry.getMessage(method.responseType);
  if (input === undefined || ackType === undefined) return false;
  const binary = /^application\/(proto|x-protobuf)/.test(headerOf(request, "content-type") ?? "");
  const peer = `http:${request.socket.remoteAddress}:${request.socket.remotePort}`;
  let release: (() => void) | undefined;
  try {
    const body = await readBody(request, deps.maxRequestBytes);
    const payload = binary ? body : Buffer.from(toBinary(input, parseJson(input, body, deps.registry)));
    const metadata = metadataOf(Object.entries(request.headers).flatMap(([key, value]) => (typeof value === "string" ? [[key, value] as [string, string]] : [])));
    metadata.set(MODE_METADATA, "async");
    release = admitted(deps, path, peer);
    const controller = new AbortController();
    response.once("close", () => controller.abort());
    const { answer, headers } = await invokeUnary(served, { request: payload, metadata, peer, deadlineMs: Infinity, signal: controller.signal });
    const ack = fromBinary(ackType, answer);
    const commandId = String((ack as unknown as { commandId: string }).commandId);
    const outcome = String(headers.get(OUTCOME_HEADER)[0] ?? "accepted");
    const answerHeaders = {
      location: `${OUTCOMES_PREFIX}${encodeURIComponent(commandId)}`,
      "recq-command-id": commandId,
      [OUTCOME_HEADER]: outcome,
      "retry-after": String(POLL_AFTER_SECONDS),
    };
    const httpStatus = outcome === "succeeded" ? 200 : 202;
    if (binary) {
      response.writeHead(httpStatus, { ...answerHeaders, "content-type": "application/proto", "content-length": answer.length });
      response.end(answer);
    } else {
      sendJson(response, httpStatus, toJsonString(ackType, ack), answerHeaders);
    }
  } catch (thrown) {
    sendError(response, thrown);
  } finally {
    release?.();
  }
  return true;
}

/** `GET /recq/v1/outcomes/<command id>`: the GetOutcomeResponse JSON, `{"outcome": {"commandId": …, "state": …}}`. */
export async function getOutcome(request: HttpRequest, response: HttpResponse, commandId: string, deps: AsyncCommandDeps): Promise<void> {
  const served = deps.served(GET_OUTCOME_PATH);
  const requestType = deps.registry.getMessage("recq.v1.GetOutcomeRequest");
  const responseType = deps.registry.getMessage("recq.v1.GetOutcomeResponse");
  try {
    if (served === undefined || requestType === undefined || responseType === undefined) {
      throw new MeshError(status.UNIMPLEMENTED, "this gateway serves no recq.v1.CommandOutcomeService", Reason.INVALID_REQUEST);
    }
    const payload = Buffer.from(toBinary(requestType, create(requestType, { commandId } as never)));
    const metadata = metadataOf(Object.entries(request.headers).flatMap(([key, value]) => (typeof value === "string" ? [[key, value] as [string, string]] : [])));
    const controller = new AbortController();
    response.once("close", () => controller.abort());
    const peer = `http:${request.socket.remoteAddress}:${request.socket.remotePort}`;
    const { answer } = await invokeUnary(served, { request: payload, metadata, peer, deadlineMs: Infinity, signal: controller.signal });
    sendJson(response, 200, toJsonString(responseType, fromBinary(responseType, answer), { registry: deps.registry }), { "cache-control": "no-store" });
  } catch (thrown) {
    sendError(response, thrown);
  }
}

function parseJson(input: DescMessage, body: Buffer, registry: FileRegistry) {
  try {
    return fromJsonString(input, body.length === 0 ? "{}" : body.toString("utf8"), { registry });
  } catch (thrown) {
    throw new MeshError(status.INVALID_ARGUMENT, `the request is not a ${input.typeName} in JSON: ${thrown instanceof Error ? thrown.message : String(thrown)}`, Reason.INVALID_REQUEST);
  }
}
