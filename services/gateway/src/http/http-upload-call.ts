import { Readable } from "node:stream";
import { Metadata } from "@grpc/grpc-js";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { HttpRequest } from "./http-answers";

/** How a raw HTTP body becomes an upload's later messages: each piece in the request type's one `bytes` field. */
export interface BodyCutting {
  /** The field's number in the request message. */
  fieldNumber: number;
  /** Bytes of one whole message at most (RECQ_MAX_UPLOAD_CHUNK_BYTES): a piece and its field's framing. */
  maxMessageBytes: number;
}

/**
 * One HTTP upload presented as the grpc-js server call a client-streaming implementation takes
 * (ServerReadableStream): its messages are the first message (from the URL), then the request's raw body cut into
 * pieces, each wrapped as a message holding only the content field. The body is read only as the messages are
 * taken: while the reader (the upload relay, which reads only under the handler's grants) leaves a message unread,
 * the HTTP request is paused, so TCP or HTTP/2 flow control holds the rest of the file on the caller's side. The
 * gateway holds at most one piece being filled plus one message read ahead.
 */
export class HttpUploadCall extends Readable {
  cancelled = false;
  /** Response headers the implementation sent. */
  readonly responseHeaders = new Metadata();
  private readonly pieceBytes: number;
  private readonly framing: Buffer;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly deadlineTimer: NodeJS.Timeout | undefined;

  constructor(
    first: Buffer,
    private readonly body: HttpRequest,
    readonly metadata: Metadata,
    private readonly peer: string,
    /** When the caller's deadline passes (ms since the epoch), or Infinity. */
    private readonly deadlineMs: number,
    private readonly path: string,
    cutting: BodyCutting,
  ) {
    // One message read ahead: past it, the request is paused until the reader takes one.
    super({ objectMode: true, highWaterMark: 1 });
    this.framing = fieldTag(cutting.fieldNumber);
    this.pieceBytes = pieceBytesOf(cutting.maxMessageBytes, this.framing.length);
    this.push(first);
    body.on("data", this.onData);
    body.on("end", this.onEnd);
    body.on("aborted", this.onAborted);
    body.on("close", () => {
      if (!body.complete) this.cancel();
    });
    if (Number.isFinite(deadlineMs)) {
      // A gRPC call's deadline is grpc-js's to keep; here it is this call's: the caller's deadline cancels it.
      this.deadlineTimer = setTimeout(() => this.cancel(), Math.max(0, deadlineMs - Date.now()));
      this.deadlineTimer.unref();
    }
  }

  getPeer(): string {
    return this.peer;
  }

  getDeadline(): number {
    return this.deadlineMs;
  }

  getPath(): string {
    return this.path;
  }

  sendMetadata(metadata: Metadata): void {
    this.responseHeaders.merge(metadata);
  }

  /** The call is over: its answer was sent. Stops the deadline's timer and reads nothing more. */
  finish(): void {
    clearTimeout(this.deadlineTimer);
    this.stopReading();
  }

  /** The caller went away (the body was cut off) or its deadline passed: what grpc-js reports as 'cancelled'. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    clearTimeout(this.deadlineTimer);
    this.stopReading();
    this.emit("cancelled");
    this.destroy();
  }

  override _read(): void {
    if (!this.body.readableEnded) this.body.resume();
  }

  private stopReading(): void {
    this.body.removeListener("data", this.onData);
    this.body.removeListener("end", this.onEnd);
    this.body.removeListener("aborted", this.onAborted);
    this.pending = [];
    this.pendingBytes = 0;
  }

  private readonly onData = (chunk: Buffer): void => {
    let rest = chunk;
    let wantsMore = true;
    while (this.pendingBytes + rest.length >= this.pieceBytes) {
      const taken = this.pieceBytes - this.pendingBytes;
      this.pending.push(rest.subarray(0, taken));
      rest = rest.subarray(taken);
      wantsMore = this.pushPiece() && wantsMore;
    }
    if (rest.length > 0) {
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
    if (!wantsMore) this.body.pause();
  };

  private readonly onEnd = (): void => {
    if (this.cancelled || !this.body.complete) return;
    if (this.pendingBytes > 0) this.pushPiece();
    this.push(null);
  };

  private readonly onAborted = (): void => this.cancel();

  /** Wraps what is pending as one message; false when the reader has a message unread (the request should pause). */
  private pushPiece(): boolean {
    const piece = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    const length = new BinaryWriter().uint32(piece.length).finish();
    return this.push(Buffer.concat([this.framing, length, piece]));
  }
}

/** The tag of a length-delimited field, as it starts the field's bytes on the wire. */
function fieldTag(fieldNumber: number): Buffer {
  return Buffer.from(new BinaryWriter().tag(fieldNumber, WireType.LengthDelimited).finish());
}

/** The largest piece whose message (tag, length, piece) fits in `maxMessageBytes`. */
export function pieceBytesOf(maxMessageBytes: number, tagBytes: number): number {
  let piece = maxMessageBytes - tagBytes - 1;
  while (piece > 0 && tagBytes + varintBytes(piece) + piece > maxMessageBytes) piece -= 1;
  if (piece <= 0) throw new Error(`an upload message of ${maxMessageBytes} bytes has no room for content`);
  return piece;
}

function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    bytes += 1;
  }
  return bytes;
}
