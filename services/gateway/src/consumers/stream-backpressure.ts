/** What backpressure needs of a server stream, consumer (duplex) or subscription (server-streaming). */
export interface BackpressuredStream<T> {
  write(message: T): boolean;
  once(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/** 'drain': the stream can take more; the others: it went away, and no more will be taken. */
const READY_OR_GONE = ["drain", "close", "cancelled", "error"] as const;

/**
 * Writes one message; resolves at once while the stream takes more, else when it has taken what it holds
 * (grpc-js backpressure: `write()` returned false, then 'drain') or has gone away meanwhile — the writer then
 * finds its stream closed.
 */
export function writeWithBackpressure<T>(stream: BackpressuredStream<T>, message: T): Promise<void> {
  return stream.write(message) ? Promise.resolve() : whenDrained(stream);
}

/** Resolves once a stream whose `write()` returned false can take more, or has gone away; no listener is left behind. */
export function whenDrained<T>(stream: BackpressuredStream<T>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of READY_OR_GONE) stream.off(event, done);
      resolve();
    };
    for (const event of READY_OR_GONE) stream.once(event, done);
  });
}
