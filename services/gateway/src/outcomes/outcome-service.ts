import { status, type Metadata, type ServerUnaryCall, type ServerWritableStream, type Server, type sendUnaryData } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import {
  CommandOutcomeServiceService,
  type GetOutcomeRequest,
  type GetOutcomeResponse,
  type Outcome,
  type WatchOutcomeRequest,
  type WatchOutcomeResponse,
} from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { MAX_COMMAND_ID_LENGTH, MeshError, Reason, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import { checkCredentials } from "../links/credentials";
import { CallSignal } from "../server/call-signal";
import { callerTraceContext, firstValue } from "../server/caller-trace-context";
import { isFinal } from "./outcome-messages";
import type { OutcomeReader } from "./outcome-reader";
import type { OutcomeSignals } from "./outcome-signals";

export const OUTCOME_SERVICE_NAME = "recq.v1.CommandOutcomeService";
/**
 * A watch also reads the outcome this often without a signal: what another gateway sharing the database records
 * sends no signal here.
 */
const WATCH_POLL_MS = 1_000;

export interface OutcomeServiceOptions {
  /** Callers present it as `authorization: Bearer <token>`, as for domain calls. */
  clientToken: string | undefined;
  /** How long a watch without a deadline may wait (RECQ_MAX_CALL_MS). */
  maxCallMsWithoutDeadline: number;
  /** Watches open at once (RECQ_MAX_OUTCOME_WATCHES); past it RESOURCE_EXHAUSTED. */
  maxWatches: number;
}

/**
 * recq.v1.CommandOutcomeService: a command id's outcome now (GetOutcome), or now and at each change until a final
 * one (WatchOutcome). Each change signal makes the watch read the outcome anew; it sends it when it differs from
 * the last one sent, so a watch sees every state it can observe and always the final one.
 */
export class OutcomeService {
  private readonly watches = new Set<{ end(error: MeshError): void }>();

  constructor(
    private readonly reader: OutcomeReader,
    private readonly signals: OutcomeSignals,
    private readonly options: OutcomeServiceOptions,
  ) {}

  register(server: Server): void {
    server.addService(CommandOutcomeServiceService, { getOutcome: this.getOutcome, watchOutcome: this.watchOutcome });
  }

  /** Ends every open watch (the gateway is shutting down). */
  closeAll(error: MeshError): void {
    for (const watch of [...this.watches]) watch.end(error);
  }

  private readonly getOutcome = (call: ServerUnaryCall<GetOutcomeRequest, GetOutcomeResponse>, callback: sendUnaryData<GetOutcomeResponse>): void => {
    const span = startRpcSpan(CommandOutcomeServiceService.getOutcome.path.slice(1), SpanKind.SERVER, callerTraceContext(call.metadata));
    let answer: Promise<Outcome>;
    try {
      this.admit(call.metadata);
      answer = this.reader.current(checkedCommandId(call.request.commandId));
    } catch (thrown) {
      answer = Promise.reject(thrown);
    }
    answer.then(
      (outcome) => {
        recordRpcOutcome(span);
        span.end();
        callback(null, { outcome });
      },
      (thrown: unknown) => {
        const error = MeshError.from(thrown);
        recordRpcOutcome(span, error);
        span.end();
        callback(error.toStatus());
      },
    );
  };

  private readonly watchOutcome = (call: ServerWritableStream<WatchOutcomeRequest, WatchOutcomeResponse>): void => {
    const span = startRpcSpan(CommandOutcomeServiceService.watchOutcome.path.slice(1), SpanKind.SERVER, callerTraceContext(call.metadata));
    let commandId: string;
    try {
      this.admit(call.metadata);
      commandId = checkedCommandId(call.request.commandId);
      if (this.watches.size >= this.options.maxWatches) {
        throw new MeshError(status.RESOURCE_EXHAUSTED, `${this.watches.size} outcome watches are open (limit ${this.options.maxWatches}, RECQ_MAX_OUTCOME_WATCHES)`, Reason.OVERLOADED);
      }
    } catch (thrown) {
      const error = MeshError.from(thrown);
      recordRpcOutcome(span, error);
      span.end();
      call.emit("error", error.toStatus());
      return;
    }
    const signal = new CallSignal(call, this.options.maxCallMsWithoutDeadline);
    let last: Outcome | undefined;
    let reading = false;
    let again = false;
    let ended = false;
    const watch = {
      end: (error?: MeshError) => {
        if (ended) return;
        ended = true;
        unwatch();
        clearInterval(poll);
        signal.cleanup();
        this.watches.delete(watch);
        recordRpcOutcome(span, error);
        span.end();
        if (error === undefined) call.end();
        else call.emit("error", error.toStatus());
      },
    };
    const refresh = (): void => {
      if (ended) return;
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      again = false;
      this.reader.current(commandId).then(
        (outcome) => {
          reading = false;
          if (ended) return;
          if (last === undefined || !sameState(last, outcome)) {
            last = outcome;
            call.write({ outcome });
          }
          if (isFinal(outcome)) return watch.end();
          if (again) refresh();
        },
        (thrown: unknown) => {
          reading = false;
          watch.end(MeshError.from(thrown));
        },
      );
    };
    // Watching first, then reading: a change between the two is not lost, it only causes one more read.
    const unwatch = this.signals.watch(commandId, refresh);
    const poll = setInterval(refresh, WATCH_POLL_MS);
    poll.unref();
    this.watches.add(watch);
    signal.onAbort(() => watch.end(MeshError.from(signal.reason)));
    refresh();
  };

  private admit(metadata: Metadata): void {
    if (!this.options.clientToken) return;
    const header = firstValue(metadata, "authorization");
    checkCredentials(this.options.clientToken, header?.startsWith("Bearer ") ? header.slice(7) : header);
  }
}

function checkedCommandId(commandId: string): string {
  if (commandId === "") throw new MeshError(status.INVALID_ARGUMENT, "command_id is required", Reason.INVALID_REQUEST);
  if (commandId.length > MAX_COMMAND_ID_LENGTH) {
    throw new MeshError(status.INVALID_ARGUMENT, `command_id is longer than ${MAX_COMMAND_ID_LENGTH} characters`, Reason.INVALID_REQUEST);
  }
  return commandId;
}

function sameState(a: Outcome, b: Outcome): boolean {
  return a.state === b.state;
}
