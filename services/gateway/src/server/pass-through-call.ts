import type { Metadata, ServerInterceptingCall, ServerInterceptingCallInterface } from "@grpc/grpc-js";

type CallInterface = ServerInterceptingCallInterface;
/** What a call's `start` is given: the listener of the layer above it (grpc-js does not export the type by name). */
export type CallListener = Parameters<CallInterface["start"]>[0];
export type CallStatus = Parameters<CallInterface["sendStatus"]>[0];

/**
 * A server interceptor's layer of a call as one object: what the service sends passes on to `next`, what the caller
 * sends passes on to the listener above; a subclass overrides the steps it watches. grpc-js's own
 * ServerInterceptingCall does the same with about twenty objects and closures per call (a responder, a listener, a
 * closure per step), which the gateway paid on every routed call; this is one object. It keeps that class's rule
 * that nothing the caller sends passes on after a cancel. Every step here is synchronous, which spares it that
 * class's queueing of a message behind metadata still being processed.
 */
export class PassThroughCall implements CallInterface, CallListener {
  private listener: CallListener | undefined = undefined;
  /** Set at the cancel: a subclass that acts on what the caller sends checks it first, as the steps here do. */
  protected cancelled = false;

  constructor(protected readonly next: CallInterface) {}

  /** What an interceptor returns: grpc-js uses it only through CallInterface, but its signature names its own class. */
  asIntercepted(): ServerInterceptingCall {
    return this as unknown as ServerInterceptingCall;
  }

  // The service's side, passed on to the layer below.

  start(listener: CallListener): void {
    this.listener = listener;
    this.next.start(this);
  }

  sendMetadata(metadata: Metadata): void {
    this.next.sendMetadata(metadata);
  }

  sendMessage(message: unknown, callback: () => void): void {
    this.next.sendMessage(message, callback);
  }

  sendStatus(status: CallStatus): void {
    this.next.sendStatus(status);
  }

  startRead(): void {
    this.next.startRead();
  }

  getPeer(): string {
    return this.next.getPeer();
  }

  getDeadline(): ReturnType<CallInterface["getDeadline"]> {
    return this.next.getDeadline();
  }

  getHost(): string {
    return this.next.getHost();
  }

  getAuthContext(): ReturnType<CallInterface["getAuthContext"]> {
    return this.next.getAuthContext();
  }

  getConnectionInfo(): ReturnType<CallInterface["getConnectionInfo"]> {
    return this.next.getConnectionInfo();
  }

  getMetricsRecorder(): ReturnType<CallInterface["getMetricsRecorder"]> {
    return this.next.getMetricsRecorder();
  }

  // The caller's side, passed on to the listener above.

  onReceiveMetadata(metadata: Metadata): void {
    if (!this.cancelled) this.listener!.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: unknown): void {
    if (!this.cancelled) this.listener!.onReceiveMessage(message);
  }

  onReceiveHalfClose(): void {
    if (!this.cancelled) this.listener!.onReceiveHalfClose();
  }

  onCancel(): void {
    this.cancelled = true;
    this.listener!.onCancel();
  }
}
