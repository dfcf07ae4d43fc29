import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import type { CheckpointStore } from "@recq-mesh/kit";
import { ObserverHandler } from "@recq-mesh/kit/internal/consumer/observer-handler";
import type { MeshCall } from "@recq-mesh/kit/internal/services/mesh-call";
import { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { TodoItemCompleted } from "@recq-mesh/todo/gen/todo/v1/events";

const events = { "todo.v1.TodoItemCompleted": TodoItemCompleted };
const envelope = (position: number) =>
  EventEnvelope.fromPartial({
    position: String(position),
    type: "todo.v1.TodoItemCompleted",
    aggregateId: "l1",
    payload: Buffer.from(TodoItemCompleted.encode(TodoItemCompleted.fromPartial({ listId: "l1", itemId: `i${position}` })).finish()),
  });

/**
 * Coalesced checkpoints (an interval far past the test) stay coalesced for ordinary events, but the dead-event paths
 * write at once: a passed parked event's position, and the position reported before a retried one is handled.
 */
describe("an observer's checkpoint on the dead-event paths", () => {
  const observerOver = (written: number[], seen: { position: number; durable: number }[]) => {
    const store: CheckpointStore = { read: async () => 0, write: async (_consumer, position) => void written.push(position) };
    const handler = new ObserverHandler(
      { name: "paths", events, checkpoints: store, handle: (_event, meta) => void seen.push({ position: meta.position, durable: written.at(-1) ?? 0 }) },
      {} as MeshCall,
      { intervalMs: 60_000, maxEvents: 100 },
    );
    return handler;
  };

  it("writes a passed parked event's position at once", async () => {
    const written: number[] = [];
    const handler = observerOver(written, []);
    await handler.checkpoint();
    await handler.handle(envelope(1));
    assert.deepEqual(written, [], "an ordinary event's write is coalesced");
    await handler.skip(2);
    assert.deepEqual(written, [2]);
  });

  it("makes the reported position durable before a retried parked event is handled", async () => {
    const written: number[] = [];
    const seen: { position: number; durable: number }[] = [];
    const handler = observerOver(written, seen);
    await handler.checkpoint();
    await handler.handle(envelope(5));
    await handler.handleRedriven(envelope(3));
    assert.deepEqual(seen, [
      { position: 5, durable: 0 },
      { position: 3, durable: 5 },
    ]);
  });
});
