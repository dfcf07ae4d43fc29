import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { Cancellation } from "../server/cancellation";

interface Waiter {
  position: number;
  resolve: () => void;
}

/**
 * How far each projection has processed the event stream, and the queries waiting for it to get somewhere:
 * what makes read-your-writes work. `advance` only moves a position forward; `reset` is for a new active
 * consumer instance, whose own checkpoint is the truth (an in-memory view store restarts from 0).
 */
export class ProjectionPositions {
  private readonly positions = new Map<string, number>();
  private readonly waiters = new Map<string, Waiter[]>();

  positionOf(projection: string): number {
    return this.positions.get(projection) ?? 0;
  }

  /** The projection has no instance left: forget it, unless queries still wait for it (one may come back). */
  forget(projection: string): void {
    if (!this.waiters.has(projection)) this.positions.delete(projection);
  }

  reset(projection: string, position: number): void {
    this.positions.set(projection, position);
    this.release(projection, position);
  }

  advance(projection: string, position: number): void {
    if (position <= this.positionOf(projection)) return;
    this.positions.set(projection, position);
    this.release(projection, position);
  }

  private release(projection: string, position: number): void {
    const waiting = this.waiters.get(projection);
    if (waiting === undefined) return;
    const still = waiting.filter((w) => w.position > position);
    for (const waiter of waiting) if (waiter.position <= position) waiter.resolve();
    if (still.length === 0) this.waiters.delete(projection);
    else this.waiters.set(projection, still);
  }

  /** Resolves once `projection` has processed `position`; rejects with the signal's reason if it aborts first. */
  waitFor(projection: string, position: number, signal: Cancellation): Promise<void> {
    if (this.positionOf(projection) >= position) return Promise.resolve();
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        position,
        resolve: () => {
          stopListening();
          resolve();
        },
      };
      const stopListening = signal.onAbort(() => {
        this.remove(projection, waiter);
        const reason: unknown = signal.reason;
        reject(
          reason instanceof MeshError && reason.code === status.DEADLINE_EXCEEDED
            ? new MeshError(
                status.DEADLINE_EXCEEDED,
                `projection ${projection} had not reached position ${position} (it is at ${this.positionOf(projection)}) when the deadline passed`,
                Reason.DEADLINE_EXCEEDED,
              )
            : reason,
        );
      });
      const list = this.waiters.get(projection) ?? [];
      list.push(waiter);
      this.waiters.set(projection, list);
    });
  }

  private remove(projection: string, waiter: Waiter): void {
    const list = this.waiters.get(projection);
    if (list === undefined) return;
    const kept = list.filter((w) => w !== waiter);
    if (kept.length === 0) this.waiters.delete(projection);
    else this.waiters.set(projection, kept);
  }
}
