/**
 * The answers of one stream on their way to an HTTP response: the stream's sink puts one in and waits until the
 * response's writer has taken it (asked for the next), so at most one answer waits here — the backpressure of
 * the caller's connection reaches the writer of the answers, as it does on a gRPC stream.
 */
export class AnswerQueue implements AsyncIterable<Buffer> {
  private waiting: { answer: Buffer; taken: () => void } | undefined;
  private wakeReader: (() => void) | undefined;
  private closed = false;

  /** Puts one answer in; resolves once it has been taken, or at once when the queue is closed. */
  readonly sink = (answer: Buffer): Promise<void> => {
    if (this.closed) return Promise.resolve();
    return new Promise((taken) => {
      this.waiting = { answer, taken };
      this.wake();
    });
  };

  /** No more answers: the reader ends after the one waiting, if any; a writer waiting is let go. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    let current: { taken: () => void } | undefined;
    try {
      for (;;) {
        const next = this.waiting;
        if (next !== undefined) {
          this.waiting = undefined;
          current = next;
          yield next.answer;
          current = undefined;
          next.taken();
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
      }
    } finally {
      // The reader stopped (the caller went away): a writer waiting is let go, and no more is taken.
      this.closed = true;
      current?.taken();
      this.waiting?.taken();
      this.waiting = undefined;
    }
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }
}
