import type { Writable } from "node:stream";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { CallSignal } from "./call-signal";

/** What one subscription's caller may leave unread before the gateway gives up on it. */
export interface BacklogLimits {
  /** Answers written and not yet taken by the caller's connection (RECQ_MAX_BUFFERED_ANSWERS). */
  maxAnswers: number;
  /** Their bytes (RECQ_MAX_BUFFERED_ANSWER_BYTES): a thousand 200 KB views would otherwise be 200 MB for one caller. */
  maxBytes: number;
  /** How long answers may wait with none taken (RECQ_MAX_UNREAD_MS): a caller that stopped reading is let go. */
  maxUnreadMs: number;
}

/**
 * The answers of one subscription on their way to a caller who may read slower than they come. grpc-js buffers
 * what HTTP/2 flow control holds back, without a bound; this counts what is written and not yet flushed (a
 * write's callback says it left), and ends the call with RESOURCE_EXHAUSTED — the handler is told to stop, no
 * other call is affected — past a count, a size, or a time without progress.
 */
export class SubscriptionBacklog {
  private answers = 0;
  private bytes = 0;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    /** The call's writable side: a server stream's, or a bidi stream's (a reply channel). */
    private readonly call: Writable,
    private readonly signal: CallSignal,
    private readonly limits: BacklogLimits,
  ) {}

  /** `onTaken`: told once the caller's connection has taken this answer (a windowed query grants one more then). */
  write(payload: Buffer, onTaken?: () => void): void {
    if (this.signal.aborted) return;
    if (this.answers >= this.limits.maxAnswers || this.bytes + payload.length > this.limits.maxBytes) {
      const waiting = `${this.answers} answers (${this.bytes} bytes) are waiting`;
      this.giveUp(`the caller reads answers slower than they come: ${waiting}; the limits are ${this.limits.maxAnswers} answers and ${this.limits.maxBytes} bytes`);
      return;
    }
    this.answers += 1;
    this.bytes += payload.length;
    this.call.write(payload, () => {
      this.taken(payload.length);
      onTaken?.();
    });
    this.stallTimer ??= this.startStallTimer();
  }

  private taken(bytes: number): void {
    this.answers -= 1;
    this.bytes -= bytes;
    // Progress: the wait for the next answer starts again, or ends when nothing waits.
    clearTimeout(this.stallTimer);
    this.stallTimer = this.answers > 0 ? this.startStallTimer() : undefined;
  }

  private startStallTimer(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.answers > 0 && !this.signal.aborted) this.giveUp(`the caller has taken no answer for ${this.limits.maxUnreadMs} ms; ${this.answers} are waiting`);
    }, this.limits.maxUnreadMs);
    // Never what keeps a process alive; it also checks that the call still runs before it acts.
    timer.unref();
    return timer;
  }

  private giveUp(message: string): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.signal.abort(new MeshError(status.RESOURCE_EXHAUSTED, message, Reason.QUEUE_FULL));
  }
}
