import { context, ROOT_CONTEXT } from "@opentelemetry/api";

/** Something that waits in a group-commit queue. */
export interface GroupCommitItem {
  /** Its size, for the batch bound. */
  readonly bytes: number;
  /** Two items with the same key never share a batch (the later one waits for the next). */
  readonly batchKey: string;
  /** Settles the item when its batch could not run at all. */
  fail(error: Error): void;
}

export interface BatchLimits {
  maxItems: number;
  maxBytes: number;
}

/**
 * Group commit for a store whose writes are transactions: items that arrive while a batch runs wait and go
 * together in the next one. One batch runs at a time, in arrival order; a batch holds at most `maxItems` items
 * and `maxBytes` bytes (an item larger than that goes alone). `run` settles every item of its batch; if it throws,
 * every item it was given fails with that error.
 *
 * Batches run in the root trace context: one batch serves many callers, so it must not join the trace of the
 * caller that happened to start it.
 */
export class GroupCommitQueue<T extends GroupCommitItem> {
  private readonly queue: T[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly limits: BatchLimits,
    private readonly run: (batch: T[]) => Promise<void>,
  ) {}

  enqueue(item: T): void {
    this.queue.push(item);
    // Wait for the rest of this event-loop turn, so that items enqueued together share the first batch too.
    this.running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => context.with(ROOT_CONTEXT, () => this.drain()));
  }

  /** Resolves once the queue is empty and no batch runs. */
  async whenIdle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      for (let batch = takeBatch(this.queue, this.limits); batch.length > 0; batch = takeBatch(this.queue, this.limits)) {
        try {
          await this.run(batch);
        } catch (thrown: unknown) {
          const error = thrown instanceof Error ? thrown : new Error(String(thrown));
          for (const item of batch) item.fail(error);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}

/** Removes and returns the next batch from the front of `queue`, within `limits`, keeping arrival order. */
export function takeBatch<T extends GroupCommitItem>(queue: T[], limits: BatchLimits): T[] {
  const batch: T[] = [];
  const keys = new Set<string>();
  let bytes = 0;
  for (let index = 0; index < queue.length && batch.length < limits.maxItems; ) {
    const item = queue[index] as T;
    if (batch.length > 0 && bytes + item.bytes > limits.maxBytes) break;
    if (keys.has(item.batchKey)) {
      index += 1;
      continue;
    }
    keys.add(item.batchKey);
    bytes += item.bytes;
    batch.push(item);
    queue.splice(index, 1);
  }
  return batch;
}
