import type { Readable } from "node:stream";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { RequestSource } from "../routing/dispatcher";
import type { Cancellation } from "../server/cancellation";

/** What one upload may send (docs/large-data.md). */
export interface UploadLimits {
  /** Bytes of one message of an upload, the first included (RECQ_MAX_UPLOAD_CHUNK_BYTES). */
  maxChunkBytes: number;
  /** Bytes of all the messages of one upload (RECQ_MAX_UPLOAD_BYTES). */
  maxUploadBytes: number;
}

/**
 * The caller's messages of one upload after its first, relayed to the handler under its grants: the gateway reads
 * the caller's next message only while the handler has granted one, otherwise the call stays paused and HTTP/2 flow
 * control holds the caller's further messages on its side — a slow handler slows the uploader, and the gateway holds
 * at most what grpc-js reads ahead of a paused stream (its object-mode high-water mark, 16 messages) plus the grant.
 * A message over a limit ends the upload with RESOURCE_EXHAUSTED through the call's signal, which cancels the dispatch.
 */
export class UploadRelay implements RequestSource {
  private credits = 0;
  private bytes: number;
  private send: ((payload: Buffer) => void) | undefined;
  private end: (() => void) | undefined;
  private stopped = false;

  constructor(
    /** The caller's request stream, paused after its first message. */
    private readonly call: Readable,
    firstMessageBytes: number,
    private readonly signal: Cancellation,
    private readonly limits: UploadLimits,
  ) {
    this.bytes = firstMessageBytes;
  }

  start(send: (payload: Buffer) => void, end: () => void): void {
    if (this.stopped) return;
    this.send = send;
    this.end = end;
    // The call was paused explicitly: adding a listener does not make it flow; only a grant does.
    this.call.on("data", this.onData);
    this.call.on("end", this.onEnd);
  }

  grant(count: number): void {
    this.credits += count;
    if (this.send !== undefined && !this.stopped && this.credits > 0) this.call.resume();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.call.pause();
    this.call.removeListener("data", this.onData);
    this.call.removeListener("end", this.onEnd);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.stopped) return;
    if (chunk.length > this.limits.maxChunkBytes) {
      return this.refuse(`a message of the upload is ${chunk.length} bytes; the gateway accepts at most ${this.limits.maxChunkBytes} (RECQ_MAX_UPLOAD_CHUNK_BYTES)`);
    }
    this.bytes += chunk.length;
    if (this.bytes > this.limits.maxUploadBytes) {
      return this.refuse(`the upload passed ${this.limits.maxUploadBytes} bytes, the most the gateway accepts (RECQ_MAX_UPLOAD_BYTES)`);
    }
    this.credits -= 1;
    this.send!(chunk);
    if (this.credits <= 0) this.call.pause();
  };

  /**
   * The caller's stream ended. A caller that resets its stream (a cancel, its deadline) ends it too: Node's HTTP/2
   * pushes the end of a stream reset mid-upload, and grpc-js reports the reset ('cancelled') only after that end has
   * been read. So the end is relayed one turn later, and only if the call was not cancelled meanwhile: a reset upload
   * must reach the handler as a Cancel, never as a complete request whose content would be stored.
   */
  private readonly onEnd = (): void => {
    setImmediate(() => {
      if (!this.stopped && !this.signal.aborted) this.end!();
    });
  };

  private refuse(message: string): void {
    this.stop();
    this.signal.abort(new MeshError(status.RESOURCE_EXHAUSTED, message, Reason.REQUEST_TOO_LARGE));
  }
}
