/**
 * The answers a streaming query may still send before the gateway grants more (Dispatch.answer_window, then an
 * `answer_permits` frame per answer its caller has taken). `reserve()` waits while none is left; a dispatch without
 * a window (an older gateway, or 0) never waits. `close()` lets every waiter go when the dispatch is over.
 */
export class AnswerWindow {
  private left: number;
  private readonly waiters: (() => void)[] = [];

  constructor(window: number) {
    this.left = window > 0 ? window : Number.POSITIVE_INFINITY;
  }

  /** An answer sent without waiting (`emit`): it counts against the window all the same. */
  took(): void {
    this.left -= 1;
  }

  grant(count: number): void {
    this.left += count;
    this.release();
  }

  /** Resolves once one more answer may be sent, and counts it. */
  reserve(): Promise<void> {
    if (this.left > 0 && this.waiters.length === 0) {
      this.left -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.release();
    });
  }

  close(): void {
    this.left = Number.POSITIVE_INFINITY;
    this.release();
  }

  private release(): void {
    while (this.left > 0 && this.waiters.length > 0) {
      this.left -= 1;
      this.waiters.shift()!();
    }
  }
}
