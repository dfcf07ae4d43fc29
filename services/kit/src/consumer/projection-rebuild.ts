import type { Logger } from "@recq-mesh/protocol";
import type { EventCodecs, ProjectionDefinition } from "../handlers/definitions";
import type { GenerationalViewStore } from "../views/generational-view-store";
import type { ConsumerClient, ConsumerClientOptions } from "./consumer-client";
import type { ConsumerEventHandler } from "./event-handler";
import { ProjectionHandler } from "./projection-handler";

/** How a rebuild makes the consumer clients it needs (the service's address, credentials, TLS, logger). */
export type ConsumerClientFactory = (
  handler: ConsumerEventHandler,
  options: Pick<ConsumerClientOptions, "generation" | "rebuild">,
) => ConsumerClient;

export interface ProjectionRebuildOptions<C extends EventCodecs> {
  definition: ProjectionDefinition<C>;
  consumer: string;
  store: GenerationalViewStore;
  generation: number;
  /** The projection's consumer client now: it keeps the current generation up until the switch. */
  current: ConsumerClient;
  /** Makes the rebuild's client (a second stream, `rebuild`, over the new generation). */
  rebuildClient: ConsumerClientFactory;
  /** Makes the projection's own client after the switch (over the store, which then resolves to the new generation). */
  mainClient: () => ConsumerClient;
  logger: Logger;
}

/**
 * Rebuilds a projection into `generation` while its queries read the current one, and switches them over:
 *
 * 1. a second consumer stream (`rebuild`, the new generation's checkpoint: 0 the first time, where it got to when
 *    a rebuild of this generation ran before) replays the event stream into the new generation's collections, until
 *    it reflects the head the gateway named when it opened;
 * 2. the current generation's client stops handling events, and the new generation goes on until it reflects at
 *    least what the current one did, so the projection's position never goes back;
 * 3. the store switches (queries and their watchers read the new generation from then on) and drops the old one;
 * 4. the projection's own stream reopens at the new generation, beside the old one (the gateway keeps it standby and
 *    gives it the events as soon as the old stream closes, which is next).
 *
 * Resolves with the projection's new consumer client.
 */
export async function rebuildProjection<C extends EventCodecs>(options: ProjectionRebuildOptions<C>): Promise<ConsumerClient> {
  const { consumer, generation, store, current, logger } = options;
  const handle = store.generationHandle(generation);
  const rebuilding = options.rebuildClient(new ProjectionHandler({ ...options.definition, store: handle }, consumer), {
    generation: () => generation,
    rebuild: true,
  });
  await rebuilding.start();
  logger.info("projection rebuild started", { consumer, generation, from: await handle.checkpoint(consumer) });
  try {
    await rebuilding.caughtUp();
    await current.pause();
    const reached = current.catchUp.reflected;
    await rebuilding.reached(reached);
    await rebuilding.pause();
    await store.switchTo(generation);
  } catch (error: unknown) {
    rebuilding.close();
    current.resume();
    throw error;
  }
  const next = options.mainClient();
  await next.start();
  await next.opened();
  rebuilding.close();
  current.close();
  logger.info("projection rebuilt: queries read the new generation, the old one is dropped", { consumer, generation, position: rebuilding.position });
  return next;
}
