export type ServingStatus = "SERVING" | "NOT_SERVING";
/** What a watcher sees: SERVICE_UNKNOWN while the service has no status (gRPC health-checking spec). */
export type WatchedStatus = ServingStatus | "SERVICE_UNKNOWN";
export type StatusListener = (status: WatchedStatus) => void;

/** The service name under which the server's overall health is kept. */
export const OVERALL_HEALTH = "";

/**
 * The serving status of each service the server serves, and of the server as a whole (under ""), with
 * listeners for Watch. After shutdown() every status is NOT_SERVING for good: later changes are ignored,
 * so that a service finishing its start during shutdown cannot announce itself healthy again.
 */
export class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Map<string, Set<StatusListener>>();
  private shuttingDown = false;

  constructor(overall: ServingStatus = "SERVING") {
    this.statuses.set(OVERALL_HEALTH, overall);
  }

  /** Sets a service's status; watchers hear of it only when it changes. */
  setStatus(service: string, status: ServingStatus): void {
    if (this.shuttingDown || this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    this.notify(service, status);
  }

  /** Forgets a service: Check answers NOT_FOUND again, watchers see SERVICE_UNKNOWN. */
  clearStatus(service: string): void {
    if (this.shuttingDown || !this.statuses.delete(service)) return;
    this.notify(service, "SERVICE_UNKNOWN");
  }

  /** Undefined when the service is unknown. */
  status(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Every known service with its status, the overall one under "". */
  snapshot(): ReadonlyMap<string, ServingStatus> {
    return new Map(this.statuses);
  }

  /** How many Watch listeners a service has: open Watch calls must not leak them. */
  watcherCount(service: string): number {
    return this.listeners.get(service)?.size ?? 0;
  }

  /** Calls the listener with the current status now, then on every change. Returns the function that stops it. */
  watch(service: string, listener: StatusListener): () => void {
    const listeners = this.listeners.get(service) ?? new Set<StatusListener>();
    this.listeners.set(service, listeners);
    listeners.add(listener);
    listener(this.statuses.get(service) ?? "SERVICE_UNKNOWN");
    return () => this.unwatch(service, listener);
  }

  /** Everything NOT_SERVING, for good: load balancers stop sending before the server stops answering. */
  shutdown(): void {
    for (const service of this.statuses.keys()) this.setStatus(service, "NOT_SERVING");
    this.shuttingDown = true;
  }

  private unwatch(service: string, listener: StatusListener): void {
    const listeners = this.listeners.get(service);
    if (listeners === undefined) return;
    listeners.delete(listener);
    if (listeners.size === 0) this.listeners.delete(service);
  }

  private notify(service: string, status: WatchedStatus): void {
    const listeners = this.listeners.get(service);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) listener(status);
  }
}
