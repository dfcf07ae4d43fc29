import { Writable } from "node:stream";
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";

/** What a sink does with one answer: resolves once the caller's connection has taken it (backpressure). */
export type AnswerSink = (answer: Buffer) => Promise<void>;

/** How an HTTP call ended: with OK, or with the status the implementation sent. */
export type CallEnding = { code: status; details: string; metadata: Metadata };

/**
 * One HTTP call presented as the grpc-js server call the gateway's service implementations take (unary or
 * server-streaming): the request, the caller's headers as metadata, its deadline, `cancelled` when the caller
 * goes away, `sendMetadata` for response headers, and — for a stream — a Writable whose writes reach `sink`
 * one at a time, each taken only once the caller's connection has taken the one before. So a call over HTTP
 * runs the very code a gRPC call runs, with the same backpressure and the same limits on what is left unread.
 */
export class HttpServerCall extends Writable {
  cancelled = false;
  /** Response headers the implementation sent (`recq-outcome`). */
  readonly responseHeaders = new Metadata();
  readonly ended: Promise<CallEnding>;
  private settle!: (ending: CallEnding) => void;
  private done = false;

  constructor(
    readonly request: unknown,
    readonly metadata: Metadata,
    private readonly peer: string,
    /** When the caller's deadline passes (ms since the epoch), or Infinity. */
    private readonly deadlineMs: number,
    private readonly sink: AnswerSink,
    /** Turns what the implementation writes into the answer's bytes (the method's response serializer). */
    private readonly serialize: (value: unknown) => Buffer,
    /** Answers buffered before a write reports backpressure (grpc-js's default is 16 as well). */
    highWaterMark = 16,
  ) {
    super({ objectMode: true, highWaterMark });
    this.ended = new Promise((resolve) => (this.settle = resolve));
    this.once("finish", () => this.finish({ code: status.OK, details: "", metadata: new Metadata() }));
  }

  getPeer(): string {
    return this.peer;
  }

  getDeadline(): number {
    return this.deadlineMs;
  }

  getPath(): string {
    return "";
  }

  sendMetadata(metadata: Metadata): void {
    this.responseHeaders.merge(metadata);
  }

  /** The caller went away, or its deadline passed: what grpc-js reports as 'cancelled'. */
  cancel(): void {
    if (this.cancelled || this.done) return;
    this.cancelled = true;
    this.emit("cancelled");
    this.finish({ code: status.CANCELLED, details: "the caller cancelled the call", metadata: new Metadata() });
    this.destroy();
  }

  /** A status sent with `emit("error", status)`, as grpc-js server calls take it, ends the call. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === "error") {
      const sent = args[0] as Partial<StatusObject> | undefined;
      this.finish({ code: sent?.code ?? status.UNKNOWN, details: sent?.details ?? "", metadata: sent?.metadata ?? new Metadata() });
      // The implementations listen for 'error' to learn their call is over; without a listener, nothing is thrown.
      if (this.listenerCount("error") > 0) super.emit("error", ...args);
      return true;
    }
    return super.emit(event, ...args);
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.done) return callback();
    this.sink(this.serialize(chunk)).then(
      () => callback(),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private finish(ending: CallEnding): void {
    if (this.done) return;
    this.done = true;
    this.settle(ending);
  }
}

/** The headers of an HTTP request as gRPC metadata: text headers whose names and values gRPC allows; the rest left out. */
export function metadataOf(headers: Iterable<[string, string]>): Metadata {
  const metadata = new Metadata();
  for (const [name, value] of headers) {
    if (name.startsWith(":") || name.endsWith("-bin")) continue;
    try {
      metadata.add(name.toLowerCase(), value);
    } catch {
      // A name or value gRPC metadata cannot carry: no gateway header is such, and no application header may be.
    }
  }
  return metadata;
}
