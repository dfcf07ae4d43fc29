import { context, SpanStatusCode } from "@opentelemetry/api";
import { Attribute, SpanName, contextWithSpan, startMeshSpan } from "@recq-mesh/protocol";
import type { FindOptions, ViewChange, ViewDocument, ViewFilter, ViewSort, ViewStore, ViewWrite, WatchOptions } from "./view-store";

/**
 * A view store whose reads are traced: each read is a `recq.view.read` span under the span active at the time
 * (the query handler's), so a query's trace reaches the view it read. Writes are traced by the projector.
 */
export class TracedViewStore implements ViewStore {
  constructor(private readonly inner: ViewStore) {}

  findById(collection: string, id: string): Promise<ViewDocument | undefined> {
    return read(collection, "findById", () => this.inner.findById(collection, id));
  }

  find(collection: string, filter: ViewFilter, options?: FindOptions): Promise<ViewDocument[]> {
    return read(collection, "find", () => this.inner.find(collection, filter, options));
  }

  count(collection: string, filter: ViewFilter): Promise<number> {
    return read(collection, "count", () => this.inner.count(collection, filter));
  }

  commit(consumer: string, position: number, writes: ViewWrite[]): Promise<void> {
    return this.inner.commit(consumer, position, writes);
  }

  checkpoint(consumer: string): Promise<number> {
    return this.inner.checkpoint(consumer);
  }

  watch(collection: string, listener: (change: ViewChange) => void, options?: WatchOptions): () => void {
    return this.inner.watch(collection, listener, options);
  }

  ensureIndex(collection: string, keys: ViewSort, options?: { unique?: boolean }): Promise<void> {
    return this.inner.ensureIndex(collection, keys, options);
  }

  dropCollection(collection: string): Promise<void> {
    return this.inner.dropCollection(collection);
  }

  dropCheckpoint(consumer: string): Promise<void> {
    return this.inner.dropCheckpoint(consumer);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function read<T>(collection: string, operation: string, work: () => Promise<T>): Promise<T> {
  const parent = context.active();
  const span = startMeshSpan(SpanName.VIEW_READ, { attributes: { [Attribute.COLLECTION]: collection, "recq.view.operation": operation } }, parent);
  try {
    // Active while the store works, so a driver's own spans (MongoDB) nest under the read.
    return await context.with(contextWithSpan(span, parent), work);
  } catch (thrown) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(thrown) });
    throw thrown;
  } finally {
    span.end();
  }
}
