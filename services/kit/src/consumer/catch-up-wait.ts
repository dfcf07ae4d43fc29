import type { Logger } from "@recq-mesh/protocol";

/** How often a service that waits for its projection to catch up logs how far it has got. */
export const CATCH_UP_PROGRESS_INTERVAL_MS = 10_000;

/** What a catch-up wait needs of a projector. */
export interface CatchingUp {
  caughtUp(): Promise<void>;
  readonly catchUp: { reflected: number; head: number | undefined };
}

export interface CatchUpWaitOptions {
  consumer: string;
  /** Past this, the wait ends with `timed-out`: the caller serves anyway. */
  timeoutMs: number;
  logger: Logger;
  /** Aborted when the service stops: the wait ends with `stopped`. */
  signal: AbortSignal;
  progressIntervalMs?: number;
}

export type CatchUpOutcome = "caught-up" | "timed-out" | "stopped";

/**
 * Waits until a projection reflects the event stream through the head the gateway named when its stream
 * opened, logging progress meanwhile; bounded by `timeoutMs`, after which it logs an error and gives up.
 */
export function waitForCatchUp(projector: CatchingUp, options: CatchUpWaitOptions): Promise<CatchUpOutcome> {
  const { consumer, logger, signal } = options;
  const started = Date.now();
  const where = () => ({ consumer, position: projector.catchUp.reflected, head: projector.catchUp.head ?? null });
  return new Promise<CatchUpOutcome>((resolve) => {
    const progress = setInterval(() => logger.info("queries wait for their projection to catch up", where()), options.progressIntervalMs ?? CATCH_UP_PROGRESS_INTERVAL_MS);
    const timeout = setTimeout(() => {
      logger.error("the projection has not caught up in time: its queries are served anyway, from views that may lack events", {
        ...where(),
        timeoutMs: options.timeoutMs,
      });
      finish("timed-out");
    }, options.timeoutMs);
    const stop = () => finish("stopped");
    signal.addEventListener("abort", stop);
    let done = false;
    function finish(outcome: CatchUpOutcome): void {
      if (done) return;
      done = true;
      clearInterval(progress);
      clearTimeout(timeout);
      signal.removeEventListener("abort", stop);
      resolve(outcome);
    }
    if (signal.aborted) return stop();
    void projector.caughtUp().then(() => {
      if (done) return;
      logger.info("projection caught up: its queries are served", { ...where(), waitedMs: Date.now() - started });
      finish("caught-up");
    });
  });
}
