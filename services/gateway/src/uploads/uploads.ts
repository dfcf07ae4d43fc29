import type { Readable } from "node:stream";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { Cancellation } from "../server/cancellation";
import { UploadRelay, type UploadLimits } from "./upload-relay";

export interface UploadOptions extends UploadLimits {
  /** Uploads running at once in the gateway (RECQ_MAX_UPLOADS); one more is refused with RESOURCE_EXHAUSTED. */
  maxUploads: number;
}

/**
 * The gateway's uploads (client-streaming commands): how many run at once, and the start of each — its first
 * message, which carries the routing key, read before the command enters its aggregate's queue; the rest relayed
 * later by an UploadRelay. Uploads are counted here rather than by the adaptive admission limit, which admits one
 * request message per call: an upload is long by nature, and its own bound is the number running.
 */
export class Uploads {
  private running = 0;

  constructor(private readonly options: UploadOptions) {}

  /** Runs one upload: `execute` gets its first message and the relay of the others; refused past the limits. */
  run<T>(call: Readable, signal: Cancellation, execute: (first: Buffer, rest: UploadRelay) => Promise<T>): Promise<T> {
    if (this.running >= this.options.maxUploads) {
      return Promise.reject(
        new MeshError(status.RESOURCE_EXHAUSTED, `${this.running} uploads are running, the most the gateway runs at once (RECQ_MAX_UPLOADS)`, Reason.QUEUE_FULL),
      );
    }
    this.running += 1;
    const release = () => {
      this.running -= 1;
    };
    const result = firstMessage(call, signal).then((first) => {
      if (first.length > this.options.maxChunkBytes) {
        throw new MeshError(
          status.RESOURCE_EXHAUSTED,
          `the upload's first message is ${first.length} bytes; the gateway accepts at most ${this.options.maxChunkBytes} (RECQ_MAX_UPLOAD_CHUNK_BYTES)`,
          Reason.REQUEST_TOO_LARGE,
        );
      }
      const relay = new UploadRelay(call, first.length, signal, this.options);
      const stop = () => relay.stop();
      const executed = execute(first, relay);
      executed.then(stop, stop);
      return executed;
    });
    result.then(release, release);
    return result;
  }
}

/** The upload's first message; the call is paused right after it, so nothing more is read until a grant. */
function firstMessage(call: Readable, signal: Cancellation): Promise<Buffer> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<Buffer>((resolve, reject) => {
    let stopListening: () => void = () => undefined;
    const cleanup = () => {
      call.removeListener("data", onData);
      call.removeListener("end", onEnd);
      stopListening();
    };
    const onData = (message: Buffer) => {
      call.pause();
      cleanup();
      resolve(message);
    };
    const onEnd = () => {
      cleanup();
      reject(new MeshError(status.INVALID_ARGUMENT, "the upload sent no message: its first message carries the routing key", Reason.INVALID_REQUEST));
    };
    call.on("data", onData);
    call.on("end", onEnd);
    stopListening = signal.onAbort(() => {
      cleanup();
      call.pause();
      reject(signal.reason);
    });
  });
}
