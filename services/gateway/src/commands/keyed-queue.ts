import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";

/**
 * Runs tasks one at a time per key, in arrival order, and different keys concurrently: the gateway's
 * per-aggregate ordering. Bounded per key and in total; past a bound a task is refused with RESOURCE_EXHAUSTED.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, { tail: Promise<unknown>; length: number }>();
  private total = 0;

  constructor(private readonly limits: { maxPerKey: number; maxTotal: number }) {}

  get pending(): number {
    return this.total;
  }

  /** `label` names the key in error messages. */
  run<T>(key: string, label: string, task: () => Promise<T>): Promise<T> {
    const entry = this.tails.get(key);
    if (entry !== undefined && entry.length >= this.limits.maxPerKey) {
      throw new MeshError(
        status.RESOURCE_EXHAUSTED,
        `${entry.length} commands are already queued for aggregate ${label} (limit ${this.limits.maxPerKey})`,
        Reason.QUEUE_FULL,
      );
    }
    if (this.total >= this.limits.maxTotal) {
      throw new MeshError(status.RESOURCE_EXHAUSTED, `the gateway has ${this.total} commands queued (limit ${this.limits.maxTotal})`, Reason.QUEUE_FULL);
    }
    const previous = entry?.tail ?? Promise.resolve();
    const result = previous.then(task, task);
    const slot = entry ?? { tail: result, length: 0 };
    slot.tail = result;
    slot.length += 1;
    this.tails.set(key, slot);
    this.total += 1;
    const release = () => {
      this.total -= 1;
      slot.length -= 1;
      if (slot.length === 0 && this.tails.get(key) === slot) this.tails.delete(key);
    };
    result.then(release, release);
    return result;
  }
}
