/**
 * The cancellation of one dispatch, whose AbortSignal is made only when a handler asks for it. Most calls end
 * without anyone looking at their signal, and an AbortController with its abort listener for every dispatch
 * was about an eighth of a query handler's CPU.
 */
export class DispatchCancellation {
  private controller: AbortController | undefined;
  private cancelledWith: { reason: unknown } | undefined;

  constructor(private readonly onCancel: () => void) {}

  get cancelled(): boolean {
    return this.cancelledWith !== undefined;
  }

  /** Why it was cancelled; undefined while it is not. */
  get reason(): unknown {
    return this.cancelledWith?.reason;
  }

  /** The signal handlers see as `context.signal`; already aborted when asked for after the cancel. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.cancelledWith !== undefined) this.controller.abort(this.cancelledWith.reason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal (if anyone holds it) and runs `onCancel`, once. */
  cancel(reason: unknown): void {
    if (this.cancelledWith !== undefined) return;
    this.cancelledWith = { reason };
    this.onCancel();
    this.controller?.abort(reason);
  }
}
