import type { DispatchRunner } from "../link/link-client";
import type { QueryDefinition, ServiceDefinitionLike } from "./definitions";
import { decodeRequest, failureOf, tracedRun } from "./traced-run";
import { callerOf } from "./caller";

type AnyUnary = (request: unknown, context: { headers: Record<string, string>; signal: AbortSignal }) => Promise<unknown>;
type AnyStreaming = (
  request: unknown,
  context: { headers: Record<string, string>; signal: AbortSignal; emit(answer: unknown): void; write(answer: unknown): Promise<void> },
) => Promise<void>;

/** Runs one query method: decode the request, call the handler, encode each answer. */
export function queryRunner<D extends ServiceDefinitionLike>(definition: QueryDefinition<D>, method: keyof D & string): DispatchRunner {
  const methodDefinition = definition.service[method]!;
  const encode = methodDefinition.responseSerialize as (answer: unknown) => Buffer;
  const handler = definition.handlers[method] as unknown;
  return (dispatch, metadata, reply, cancellation, streams) => {
    const request = () => decodeRequest((b) => methodDefinition.requestDeserialize(b), dispatch.payload, dispatch.method);
    // A getter: the signal is made only if the handler reads it.
    const context = {
      headers: dispatch.headers,
      get caller() {
        return callerOf(dispatch.headers);
      },
      get signal() {
        return cancellation.signal;
      },
    };
    if (methodDefinition.responseStream) {
      const answers = streams?.answers;
      const emit = (answer: unknown) => {
        answers?.took();
        reply({ $case: "answer", value: { payload: encode(answer) } });
      };
      // Waits for the gateway's grant (Dispatch.answer_window): a download goes at its caller's pace.
      const write = async (answer: unknown) => {
        await answers?.reserve();
        if (cancellation.signal.aborted) throw cancellation.signal.reason;
        reply({ $case: "answer", value: { payload: encode(answer) } });
      };
      const streamingContext = Object.assign(context, { emit, write });
      tracedRun(dispatch.method, metadata, undefined, () => (handler as AnyStreaming)(request(), streamingContext)).then(
        () => reply({ $case: "end", value: {} }),
        (thrown) => reply(failureOf(thrown)),
      );
      return;
    }
    // Encoding runs inside the traced work: an answer that does not encode is a failure reply, not a crash.
    tracedRun(dispatch.method, metadata, undefined, async () => encode(await (handler as AnyUnary)(request(), context))).then(
      (payload) => reply({ $case: "answer", value: { payload } }),
      (thrown) => reply(failureOf(thrown)),
    );
  };
}
