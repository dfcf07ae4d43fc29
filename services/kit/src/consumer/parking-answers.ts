import type { ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";

/**
 * A consumer stream's side of the dead-event queue: the wait for the gateway's answer to a failure report, and the
 * positions that answer names to pass (the failed event, and the later events of its aggregate already sent).
 */
export class ParkingAnswers {
  private readonly toPass = new Set<number>();
  private waiting: { position: number; resolve: () => void; reject: (error: Error) => void } | undefined;

  /**
   * Resolves when the answer for `position` comes; rejects if the stream is lost first, or after `timeoutMs` (a
   * gateway that does not know failure reports never answers: the consumer then reconnects and tries again).
   */
  waitFor(position: number, timeoutMs: number): Promise<void> {
    this.waiting?.reject(new Error("a second failure report while one is unanswered"));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiting?.position !== position) return;
        this.waiting = undefined;
        reject(new Error(`the gateway did not answer the failure report of position ${position} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      const settle = <A extends unknown[]>(then: (...args: A) => void) => (...args: A) => {
        clearTimeout(timer);
        then(...args);
      };
      this.waiting = { position, resolve: settle(resolve), reject: settle(reject) };
    });
  }

  answered(response: ConsumeResponse): void {
    for (const position of response.skipPositions) this.toPass.add(Number(position));
    const waiting = this.waiting;
    if (waiting?.position !== Number(response.answeredFailurePosition)) return;
    this.waiting = undefined;
    waiting.resolve();
  }

  /** Whether the gateway named `position` to pass; it is forgotten once taken. */
  take(position: number): boolean {
    return this.toPass.delete(position);
  }

  /** A new stream: what the old one named is named again by the gateway if still parked. */
  reset(): void {
    this.toPass.clear();
  }

  lost(error: Error): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }
}
