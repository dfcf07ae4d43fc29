/**
 * How a call learns it is over early (deadline, caller gone): a one-shot cancellation with its reason.
 * A plain AbortController costs an EventTarget per call, and the gateway makes one per call: this is the same
 * contract with one array.
 */
export class Cancellation {
  /** `deadlineMs`: when the call's deadline passes (ms since the epoch), 0 when it has none. */
  constructor(readonly deadlineMs = 0) {}

  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined;

  /** Runs `listener` once when the call is cancelled (at once if it already is). Returns its removal. */
  onAbort(listener: () => void): () => void {
    if (!this.addListener(listener)) return noop;
    return () => this.removeListener(listener);
  }

  /**
   * `onAbort` without the removal closure, for what a gateway holds per call: false (and the listener has run)
   * when the call is already cancelled.
   */
  addListener(listener: () => void): boolean {
    if (this.aborted) {
      listener();
      return false;
    }
    // Most calls have one listener: an array made by push would reserve room for 17 of them.
    if (this.listeners === undefined) this.listeners = [listener];
    else this.listeners.push(listener);
    return true;
  }

  removeListener(listener: () => void): void {
    const listeners = this.listeners;
    if (listeners === undefined) return;
    const index = listeners.indexOf(listener);
    if (index >= 0) listeners.splice(index, 1);
  }

  /** Milliseconds left until the deadline, 0 when there is none (what a dispatch tells the handler). */
  remainingMs(): number {
    return this.deadlineMs === 0 ? 0 : Math.max(1, this.deadlineMs - Date.now());
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
  }
}

function noop(): void {}
