import { fromBinary, toBinary, type DescMessage, type DescMethod, type FileRegistry } from "@bufbuild/protobuf";
import { createContextKey, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import type { AdmissionControl } from "../admission/admission-control";
import type { AdmissionKind } from "../admission/admission-interceptor";
import { connectErrorOf } from "./connect-errors";
import { metadataOf } from "./http-server-call";
import type { ServedMethod } from "./recording-server";
import { AnswerQueue } from "./answer-queue";
import { endingError, invokeUnary, openStream, type HttpCallInput } from "./served-call";

/** The caller's connection (`http:address:port`), set per request by the HTTP port: admission's notion of a caller. */
export const PEER = createContextKey<string>("http:unknown");

export interface ConnectRouteDeps {
  registry: FileRegistry;
  /** The full names of the services the port serves, `todo.v1.TodoListQueryService`. */
  services: readonly string[];
  served: (path: string) => ServedMethod | undefined;
  admission: AdmissionControl;
  admissionKind: (path: string) => AdmissionKind;
}

/**
 * The Connect (and gRPC-Web) routes of the served services, built from the descriptor set: each method's request
 * is decoded by Connect (JSON or binary) and turned into the request's bytes once; the gateway's own
 * implementation of the method runs as for a gRPC call; its answer's bytes become the response message.
 * Unary and server-streaming methods only: uploads (client-streaming commands) take a raw body on their own route
 * (http-uploads.ts); bidi methods are not served over HTTP.
 */
export function connectRoutes(deps: ConnectRouteDeps): (router: ConnectRouter) => void {
  return (router) => {
    for (const name of deps.services) {
      const service = deps.registry.getService(name);
      if (service === undefined) continue;
      for (const method of service.methods) {
        const served = deps.served(`/${name}/${method.name}`);
        if (served === undefined || served.requestStream) continue;
        if (method.methodKind === "unary") router.rpc(method, unaryImpl(method, served, deps) as never);
        else if (method.methodKind === "server_streaming") router.rpc(method, streamImpl(method, served, deps) as never);
      }
    }
  };
}

/** The call's input: the request's bytes, its headers as metadata, its caller, deadline and signal. */
export function callInput(input: DescMessage, request: Parameters<typeof toBinary>[1], context: HandlerContext): HttpCallInput {
  const timeoutMs = context.timeoutMs();
  return {
    request: Buffer.from(toBinary(input, request)),
    metadata: metadataOf(context.requestHeader),
    peer: context.values.get(PEER),
    deadlineMs: timeoutMs === undefined ? Infinity : Date.now() + timeoutMs,
    signal: context.signal,
  };
}

/** Takes the admission slot a gRPC call of this path takes (admission-interceptor.ts); returns its release. */
export function admitted(deps: Pick<ConnectRouteDeps, "admission" | "admissionKind">, path: string, peer: string): () => void {
  const kind = deps.admissionKind(path);
  if (kind === undefined) return () => undefined;
  if (kind === "subscription") {
    deps.admission.admitSubscription();
    return once(() => deps.admission.releaseSubscription());
  }
  deps.admission.admitCall(peer);
  return once(() => deps.admission.releaseCall(peer));
}

function unaryImpl(method: DescMethod, served: ServedMethod, deps: ConnectRouteDeps) {
  return async (request: Parameters<typeof toBinary>[1], context: HandlerContext) => {
    const input = callInput(method.input, request, context);
    let release: (() => void) | undefined;
    try {
      release = admitted(deps, served.path, input.peer);
      const { answer, headers } = await invokeUnary(served, input);
      for (const [key, values] of Object.entries(headers.toJSON())) {
        for (const value of values) if (typeof value === "string") context.responseHeader.append(key, value);
      }
      return fromBinary(method.output, answer);
    } catch (thrown) {
      throw connectErrorOf(thrown);
    } finally {
      release?.();
    }
  };
}

function streamImpl(method: DescMethod, served: ServedMethod, deps: ConnectRouteDeps) {
  return async function* (request: Parameters<typeof toBinary>[1], context: HandlerContext) {
    const input = callInput(method.input, request, context);
    let release: (() => void) | undefined;
    const answers = new AnswerQueue();
    try {
      release = admitted(deps, served.path, input.peer);
      const call = openStream(served, input, answers.sink);
      void call.ended.then(() => answers.close());
      for await (const answer of answers) yield fromBinary(method.output, answer);
      const error = endingError(await call.ended);
      if (error !== undefined) throw error;
    } catch (thrown) {
      throw connectErrorOf(thrown);
    } finally {
      answers.close();
      release?.();
    }
  };
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}
