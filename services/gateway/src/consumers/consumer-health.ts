import type { HealthRegistry, ServingStatus } from "../health/health-registry";

/** Consumers are in the health service under `recq.consumer/<consumer name>`. */
export const CONSUMER_HEALTH_PREFIX = "recq.consumer/";

/**
 * A consumer's health: SERVING while an instance of it is active and none of its events is parked in the dead-event
 * queue; NOT_SERVING while it has parked events (its views or effects lack them) or no active instance (events wait).
 * A consumer the gateway has not seen since it started is unknown (NOT_FOUND), as any unknown service.
 */
export class ConsumerHealth {
  constructor(private readonly registry: HealthRegistry | undefined) {}

  report(consumer: string, active: boolean, parked: number): void {
    this.registry?.setStatus(CONSUMER_HEALTH_PREFIX + consumer, servingStatus(active, parked));
  }
}

function servingStatus(active: boolean, parked: number): ServingStatus {
  return active && parked === 0 ? "SERVING" : "NOT_SERVING";
}
