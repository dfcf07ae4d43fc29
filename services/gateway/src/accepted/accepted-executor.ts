import { status } from "@grpc/grpc-js";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import type { Outcome } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { Attribute, Backoff, MeshError, Reason, SpanName, contextWithSpan, extractTraceContext, startMeshSpan, type Logger } from "@recq-mesh/protocol";
import type { CommandPipeline } from "../commands/command-pipeline";
import type { DescriptorCatalog, MethodEntry } from "../descriptors/descriptor-catalog";
import { failedOutcome, recordedOutcome, succeededOutcome } from "../outcomes/outcome-messages";
import type { OutcomeSignals } from "../outcomes/outcome-signals";
import type { ReplyChannels } from "../channels/reply-channels";
import { Cancellation } from "../server/cancellation";
import type { EventStore } from "../store/event-store";
import { acceptedCommandBytes, type AcceptedCommand } from "./accepted-command";
import type { CommandInbox } from "./command-inbox";
import { isTransientFailure } from "./transient-failure";

export interface AcceptedLimits {
  /** Accepted commands waiting or running at once (RECQ_MAX_ACCEPTED_COMMANDS). */
  maxAcceptedCommands: number;
  /** Their bytes in memory, as `acceptedCommandBytes` counts them (RECQ_MAX_ACCEPTED_BYTES). */
  maxAcceptedBytes: number;
  /** Accepted commands executing at once, one per aggregate at the most (RECQ_ACCEPTED_CONCURRENCY). */
  acceptedConcurrency: number;
  /** How long after its acceptance a command may still be tried; then it fails for good (RECQ_ACCEPTED_COMMAND_TTL_MS). */
  acceptedCommandTtlMs: number;
  /** How long one attempt may take, its handler's answer included (RECQ_MAX_CALL_MS, as a call without a deadline). */
  attemptTimeoutMs: number;
}

/** What an acceptance answers: accepted now (or before, still waiting), or the final outcome a repeat finds. */
export type AcceptAnswer = { kind: "accepted" } | { kind: "succeeded"; ack: Buffer };

interface Entry {
  command: AcceptedCommand;
  method: MethodEntry;
  aggregateType: string;
  /** The lane its aggregate's commands wait in, one at a time; a command without a routing key has a lane of its own. */
  lane: string;
  bytes: number;
  expiresAtMs: number;
  running: boolean;
  attempts: number;
  backoff: Backoff;
  cancellation: Cancellation | undefined;
  /** Synchronous calls with its command id, waiting for its final outcome. */
  waiters: ((outcome: Outcome | MeshError) => void)[] | undefined;
}

/** How often the inbox is asked for commands other gateways left (a shared MongoDB); the embedded inbox hands out nothing after the first claim. */
const CLAIM_INTERVAL_MS = 10_000;
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Runs accepted commands in the background through the CommandPipeline, in acceptance order per aggregate: only
 * the oldest command of an aggregate runs, and the next waits until it is final — across retries too, so a command
 * retried after a transient failure is never overtaken. Transient failures are retried with backoff until the
 * command's time-to-live passes; a final failure is recorded in the event store (success is recorded by the append
 * itself); then the inbox entry is settled and the hook told.
 */
export class AcceptedExecutor {
  private readonly entries = new Map<string, Entry>();
  private readonly accepting = new Map<string, Promise<AcceptAnswer>>();
  private readonly lanes = new Map<string, Entry[]>();
  /** Lanes whose oldest command may start, in the order they became ready. */
  private ready: string[] = [];
  private active = 0;
  private bytes = 0;
  private reservedCommands = 0;
  private reservedBytes = 0;
  private stopped = false;
  private readonly attemptsInFlight = new Set<Promise<void>>();
  /** Commands waiting out a backoff: the timer, and the lane it puts back in line. */
  private readonly retryTimers = new Map<NodeJS.Timeout, string>();
  private claimTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly inbox: CommandInbox,
    private readonly store: EventStore,
    private readonly pipeline: CommandPipeline,
    private readonly catalog: DescriptorCatalog,
    private readonly signals: OutcomeSignals,
    /** Where the outcome of a command accepted with `recq-reply-to` is delivered too. */
    private readonly replyChannels: ReplyChannels,
    private readonly limits: AcceptedLimits,
    private readonly logger: Logger,
  ) {}

  /** Accepted commands waiting or running. */
  get waiting(): number {
    return this.entries.size;
  }

  /** Where an accepted command is now, while the executor holds it. */
  stateOf(commandId: string): { running: boolean; method: string; acceptedAtMs: number } | undefined {
    const entry = this.entries.get(commandId);
    return entry && { running: entry.running, method: entry.command.method, acceptedAtMs: entry.command.acceptedAtMs };
  }

  /**
   * While `commandId` is an accepted command waiting or running here, the promise of its final outcome (rejected
   * with `signal`'s reason if that aborts first): a synchronous call with the same id waits for it rather than
   * running the command a second time, out of its aggregate's order. Undefined when the executor does not hold it.
   */
  whenSettled(commandId: string, signal: Cancellation): Promise<Outcome> | undefined {
    const entry = this.entries.get(commandId);
    if (entry === undefined) return undefined;
    return new Promise<Outcome>((resolve, reject) => {
      const waiter = (outcome: Outcome | MeshError) => {
        signal.removeListener(onAbort);
        if (outcome instanceof MeshError) reject(outcome);
        else resolve(outcome);
      };
      const onAbort = () => {
        const waiters = entry.waiters;
        if (waiters !== undefined && waiters.includes(waiter)) waiters.splice(waiters.indexOf(waiter), 1);
        reject(signal.reason);
      };
      if (signal.addListener(onAbort)) (entry.waiters ??= []).push(waiter);
    });
  }

  /** Takes what the inbox holds from before (a restart, a crash) and starts running it; then claims again now and then. */
  async start(): Promise<void> {
    await this.claim();
    this.claimTimer = setInterval(() => void this.claim().catch((error: unknown) => this.logger.warn("could not claim accepted commands", { error: String(error) })), CLAIM_INTERVAL_MS);
    this.claimTimer.unref();
  }

  /**
   * Records `command` durably and queues it, or answers what a repeat of its id gets: "accepted" while it waits,
   * its ack (or its failure, thrown) once it is final. Refused with RESOURCE_EXHAUSTED past the limits.
   */
  accept(method: MethodEntry, aggregateType: string, aggregateId: string, command: AcceptedCommand): Promise<AcceptAnswer> {
    if (this.stopped) return Promise.reject(new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN));
    const id = command.commandId;
    if (this.entries.has(id)) return Promise.resolve({ kind: "accepted" });
    const inFlight = this.accepting.get(id);
    if (inFlight !== undefined) return inFlight;
    const accepting = this.record(method, aggregateType, aggregateId, command);
    this.accepting.set(id, accepting);
    const forget = () => this.accepting.delete(id);
    accepting.then(forget, forget);
    return accepting;
  }

  /**
   * Ends every backoff now: a handler just linked (the gateway calls this when a route is added), so the commands
   * that waited for one need not wait out their backoff (up to 5 s).
   */
  wake(): void {
    if (this.stopped || this.retryTimers.size === 0) return;
    for (const [timer, lane] of this.retryTimers) {
      clearTimeout(timer);
      this.ready.push(lane);
    }
    this.retryTimers.clear();
    this.pump();
  }

  /** Stops starting attempts, cancels those running (their commands stay in the inbox for the next start) and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.claimTimer);
    for (const timer of this.retryTimers.keys()) clearTimeout(timer);
    this.retryTimers.clear();
    const reason = new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN);
    for (const entry of this.entries.values()) {
      entry.cancellation?.abort(reason);
      for (const waiter of entry.waiters?.splice(0) ?? []) waiter(reason);
    }
    while (this.attemptsInFlight.size > 0) await Promise.allSettled([...this.attemptsInFlight]);
    await Promise.allSettled([...this.accepting.values()]);
  }

  private async record(method: MethodEntry, aggregateType: string, aggregateId: string, command: AcceptedCommand): Promise<AcceptAnswer> {
    const recorded = await this.storeCall(() => this.store.findOutcome(command.commandId));
    if (recorded !== undefined) {
      if (recorded.kind === "failed") throw new MeshError(recorded.code as status, recorded.message, recorded.reason);
      return { kind: "succeeded", ack: Buffer.from(CommandAck.encode({ commandId: recorded.commandId, position: String(recorded.position), sequence: String(recorded.sequence) }).finish()) };
    }
    const bytes = acceptedCommandBytes(command);
    this.reserve(bytes);
    try {
      const added = await this.storeCall(() => this.inbox.add(command));
      // Already in the inbox and not held here: another gateway sharing the database accepted it and runs it.
      if (added === "present") return { kind: "accepted" };
      this.enqueue(command, method, aggregateType, aggregateId, bytes);
      return { kind: "accepted" };
    } finally {
      this.reservedCommands -= 1;
      this.reservedBytes -= bytes;
    }
  }

  /** Counts a command about to be recorded against the limits, before the inbox write, so concurrent acceptances cannot overshoot. */
  private reserve(bytes: number): void {
    const held = this.entries.size + this.reservedCommands;
    if (held >= this.limits.maxAcceptedCommands) {
      throw new MeshError(
        status.RESOURCE_EXHAUSTED,
        `the gateway holds ${held} accepted commands (limit ${this.limits.maxAcceptedCommands}, RECQ_MAX_ACCEPTED_COMMANDS)`,
        Reason.ACCEPTED_COMMANDS_FULL,
      );
    }
    const heldBytes = this.bytes + this.reservedBytes;
    if (heldBytes + bytes > this.limits.maxAcceptedBytes) {
      throw new MeshError(
        status.RESOURCE_EXHAUSTED,
        `the gateway holds ${heldBytes} bytes of accepted commands; this one needs ${bytes} more (limit ${this.limits.maxAcceptedBytes}, RECQ_MAX_ACCEPTED_BYTES)`,
        Reason.ACCEPTED_COMMANDS_FULL,
      );
    }
    this.reservedCommands += 1;
    this.reservedBytes += bytes;
  }

  private async claim(): Promise<void> {
    if (this.stopped) return;
    for (const command of await this.inbox.claim()) {
      if (this.entries.has(command.commandId)) continue;
      const method = this.catalog.methodByPath(`/${command.method}`);
      const service = method && this.catalog.serviceByName(method.service);
      if (method === undefined || service === undefined || method.kind !== "command") {
        // The descriptor set no longer has the method: nothing can ever run it.
        await this.finishUnrunnable(command, new MeshError(status.UNIMPLEMENTED, `no command method ${command.method} in the gateway's descriptor set`, Reason.INVALID_REQUEST));
        continue;
      }
      let aggregateId: string;
      try {
        aggregateId = this.pipeline.check(method, command.payload, command.commandId);
      } catch (thrown) {
        await this.finishUnrunnable(command, MeshError.from(thrown));
        continue;
      }
      this.enqueue(command, method, service.aggregateType, aggregateId, acceptedCommandBytes(command));
    }
  }

  private enqueue(command: AcceptedCommand, method: MethodEntry, aggregateType: string, aggregateId: string, bytes: number): void {
    const lane = aggregateId === "" ? `command ${command.commandId}` : `${aggregateType}\u0000${aggregateId}`;
    const entry: Entry = {
      command,
      method,
      aggregateType,
      lane,
      bytes,
      expiresAtMs: command.acceptedAtMs + this.limits.acceptedCommandTtlMs,
      running: false,
      attempts: 0,
      backoff: new Backoff(RETRY_INITIAL_MS, RETRY_MAX_MS),
      cancellation: undefined,
      waiters: undefined,
    };
    this.entries.set(command.commandId, entry);
    this.bytes += bytes;
    const queue = this.lanes.get(lane);
    if (queue === undefined) {
      this.lanes.set(lane, [entry]);
      this.ready.push(lane);
    } else {
      queue.push(entry);
    }
    this.notify(command.commandId);
    this.pump();
  }

  /** Starts the oldest command of ready lanes while fewer than the concurrency limit run. */
  private pump(): void {
    while (!this.stopped && this.active < this.limits.acceptedConcurrency && this.ready.length > 0) {
      const lane = this.ready.shift()!;
      const entry = this.lanes.get(lane)?.[0];
      if (entry === undefined || entry.running) continue;
      const attempt = this.attempt(entry).catch((error: unknown) => this.logger.error("an accepted command's attempt failed unexpectedly", { commandId: entry.command.commandId, error: String(error) }));
      this.attemptsInFlight.add(attempt);
      void attempt.then(() => this.attemptsInFlight.delete(attempt));
    }
  }

  private async attempt(entry: Entry): Promise<void> {
    const { command } = entry;
    entry.running = true;
    entry.attempts += 1;
    this.active += 1;
    this.notify(command.commandId);
    let result: { ack: Buffer } | { error: MeshError };
    try {
      result = await this.execute(entry);
    } finally {
      entry.running = false;
      this.active -= 1;
    }
    // Stopping: the command stays in the inbox; the next start runs it, or finds the outcome this attempt recorded.
    if (this.stopped) return;
    let error = "error" in result ? result.error : undefined;
    if (error !== undefined && isTransientFailure(error)) {
      if (Date.now() < entry.expiresAtMs) return this.retryLater(entry);
      error = expired(entry, error);
    }
    let outcome: Outcome;
    try {
      outcome = error === undefined ? succeededOutcome(command.commandId, CommandAck.decode((result as { ack: Buffer }).ack), command.method) : await this.recordFinal(entry, error);
    } catch (recordError) {
      this.logger.warn("could not record an accepted command's failure; it is tried again", { commandId: command.commandId, error: String(recordError) });
      return this.retryLater(entry);
    }
    await this.settle(entry, outcome);
  }

  /** One run through the pipeline, in the acceptance's trace, bounded by the attempt limit and the time-to-live. */
  private async execute(entry: Entry): Promise<{ ack: Buffer } | { error: MeshError }> {
    const { command } = entry;
    const remainingMs = entry.expiresAtMs - Date.now();
    if (remainingMs <= 0) return { error: expired(entry) };
    const timeoutMs = Math.min(this.limits.attemptTimeoutMs, remainingMs);
    const cancellation = new Cancellation(Date.now() + timeoutMs);
    entry.cancellation = cancellation;
    const timer = setTimeout(() => cancellation.abort(new MeshError(status.DEADLINE_EXCEEDED, `the attempt took longer than ${timeoutMs} ms`, Reason.DEADLINE_EXCEEDED)), timeoutMs);
    timer.unref();
    const parent = extractTraceContext(command.trace);
    const span = startMeshSpan(
      SpanName.ACCEPTED_EXECUTE,
      { kind: SpanKind.INTERNAL, attributes: { [Attribute.COMMAND_ID]: command.commandId, [Attribute.ATTEMPT]: entry.attempts } },
      parent,
    );
    try {
      const ack = await this.pipeline.execute({
        method: entry.method,
        aggregateType: entry.aggregateType,
        payload: command.payload,
        commandId: command.commandId,
        headers: command.headers,
        signal: cancellation,
        traceContext: contextWithSpan(span, parent),
      });
      return { ack };
    } catch (thrown) {
      const error = MeshError.from(thrown);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      return { error };
    } finally {
      clearTimeout(timer);
      entry.cancellation = undefined;
      span.end();
    }
  }

  private retryLater(entry: Entry): void {
    const delayMs = Math.max(0, Math.min(entry.backoff.next(), entry.expiresAtMs - Date.now()));
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.ready.push(entry.lane);
      this.pump();
    }, delayMs);
    timer.unref();
    this.retryTimers.set(timer, entry.lane);
    this.notify(entry.command.commandId);
    this.pump();
  }

  /**
   * The final outcome of a failed command, recorded in the event store so that polls and repeats see it — unless the
   * store has one already (the pipeline recorded the handler's decision, or an earlier attempt did commit, its answer
   * lost): that one is the outcome.
   */
  private async recordFinal(entry: Entry, error: MeshError): Promise<Outcome> {
    const { commandId, method } = entry.command;
    const recorded = await this.store.findOutcome(commandId);
    if (recorded !== undefined) return recordedOutcome(recorded, method);
    await this.store.recordFailure({ commandId, code: error.code, message: error.message, reason: error.reason });
    return failedOutcome(commandId, error, method);
  }

  /** A command the inbox handed out that can never run here: its failure recorded, its entry settled. */
  private async finishUnrunnable(command: AcceptedCommand, error: MeshError): Promise<void> {
    this.logger.warn("an accepted command cannot run: it fails", { commandId: command.commandId, method: command.method, error: error.message });
    const recorded = await this.store.findOutcome(command.commandId);
    if (recorded === undefined) await this.store.recordFailure({ commandId: command.commandId, code: error.code, message: error.message, reason: error.reason });
    await this.inbox.settle(command.commandId);
    this.deliverToChannel(command, recorded === undefined ? failedOutcome(command.commandId, error, command.method) : recordedOutcome(recorded, command.method));
  }

  private async settle(entry: Entry, outcome: Outcome): Promise<void> {
    const { command } = entry;
    try {
      await this.inbox.settle(command.commandId);
    } catch (error) {
      // Harmless: after a restart the inbox hands it out again, and the pipeline finds its outcome in the store.
      this.logger.warn("could not settle an accepted command in the inbox", { commandId: command.commandId, error: String(error) });
    }
    this.entries.delete(command.commandId);
    this.bytes -= entry.bytes;
    const queue = this.lanes.get(entry.lane)!;
    queue.shift();
    if (queue.length > 0) this.ready.push(entry.lane);
    else this.lanes.delete(entry.lane);
    this.notify(command.commandId);
    for (const waiter of entry.waiters?.splice(0) ?? []) waiter(outcome);
    this.deliverToChannel(command, outcome);
    this.pump();
  }

  private deliverToChannel(command: AcceptedCommand, outcome: Outcome): void {
    if (command.replyTo !== undefined) this.replyChannels.deliver(command.replyTo, outcome);
  }


  private notify(commandId: string): void {
    if (this.signals.isWatched(commandId)) this.signals.changed(commandId);
  }

  private async storeCall<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (thrown) {
      if (thrown instanceof MeshError) throw thrown;
      throw new MeshError(status.UNAVAILABLE, `the accepted-command inbox or the event store is unavailable: ${String(thrown)}`, Reason.STORE_UNAVAILABLE, { cause: thrown });
    }
  }
}

function expired(entry: Entry, last?: MeshError): MeshError {
  const after = last === undefined ? "" : `; the last attempt failed with ${status[last.code]}: ${last.message}`;
  return new MeshError(
    status.DEADLINE_EXCEEDED,
    `accepted command ${entry.command.commandId} was not executed within its time-to-live (${entry.expiresAtMs - entry.command.acceptedAtMs} ms, RECQ_ACCEPTED_COMMAND_TTL_MS) after ${entry.attempts} attempts${after}`,
    Reason.ACCEPTED_COMMAND_EXPIRED,
  );
}
