/**
 * The messages of an upload after its first, as the handler reads them: an async iterable fed by the link's
 * `request_chunk` frames. It grants the gateway `window` messages at once and one more for each one the handler
 * takes, so at most `window` messages wait here, and a handler that reads slowly slows the gateway, which slows the
 * caller. A cancel (caller gone, deadline, link lost) makes the iteration throw its reason.
 */
export class RequestChunks implements AsyncIterable<Buffer> {
  private readonly waiting: Buffer[] = [];
  private ended = false;
  private failure: { reason: unknown } | undefined;
  private wake: (() => void) | undefined;
  private iterated = false;

  constructor(
    private readonly grant: (count: number) => void,
    window: number,
  ) {
    grant(window);
  }

  /** A `request_chunk` frame: one more message, or the end. */
  push(payload: Buffer, end: boolean): void {
    if (end) this.ended = true;
    else this.waiting.push(payload);
    this.notify();
  }

  fail(reason: unknown): void {
    this.failure ??= { reason };
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    // One reader: a second would take messages the first never sees.
    if (this.iterated) throw new Error("an upload's messages can be read only once");
    this.iterated = true;
    for (;;) {
      if (this.failure !== undefined) throw this.failure.reason;
      const next = this.waiting.shift();
      if (next !== undefined) {
        this.grant(1);
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
