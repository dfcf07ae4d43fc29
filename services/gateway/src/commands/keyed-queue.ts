import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { Cancellation } from "../server/cancellation";

/**
 * A task waiting for its turn. Everything is cleared once it has been dropped, so that what is left in its lane's
 * array until the next sweep is an empty object.
 */
interface Entry {
  task: (() => Promise<unknown>) | undefined;
  resolve: ((value: unknown) => void) | undefined;
  reject: ((error: unknown) => void) | undefined;
  signal: Cancellation | undefined;
  onAbort: (() => void) | undefined;
}

/** One key's tasks: the one running and those waiting, in arrival order. */
interface Lane {
  waiting: Entry[];
  /** Index of the next entry of `waiting` to look at: entries before it have been taken. */
  next: number;
  running: boolean;
  /** Tasks of this key not yet finished, running or waiting (dropped ones not counted). */
  length: number;
  /** Dropped entries still in `waiting`. */
  dropped: number;
}

/** Taken entries are cut from the front of a lane's array once there are this many. */
const COMPACT_AFTER = 1024;
/** Dropped entries are swept out of a lane's array once there are this many and they are half of it. */
const SWEEP_AFTER = 64;

/**
 * Runs tasks one at a time per key, in arrival order, and different keys concurrently: the gateway's
 * per-aggregate ordering. Bounded per key and in total; past a bound a task is refused with RESOURCE_EXHAUSTED.
 * A waiting task whose signal aborts leaves the queue at once (its promise rejects with the signal's reason), so
 * callers who gave up hold neither a place nor memory while the work ahead of them runs.
 */
export class KeyedQueue {
  private readonly lanes = new Map<string, Lane>();
  private total = 0;

  constructor(private readonly limits: { maxPerKey: number; maxTotal: number }) {}

  get pending(): number {
    return this.total;
  }

  /** `label` names the key in error messages; `signal` takes the task out of the queue if it aborts first. */
  run<T>(key: string, label: string, task: () => Promise<T>, signal?: Cancellation): Promise<T> {
    const lane = this.lanes.get(key);
    if (lane !== undefined && lane.length >= this.limits.maxPerKey) {
      throw new MeshError(
        status.RESOURCE_EXHAUSTED,
        `${lane.length} commands are already queued for aggregate ${label} (limit ${this.limits.maxPerKey})`,
        Reason.QUEUE_FULL,
      );
    }
    if (this.total >= this.limits.maxTotal) {
      throw new MeshError(status.RESOURCE_EXHAUSTED, `the gateway has ${this.total} commands queued (limit ${this.limits.maxTotal})`, Reason.QUEUE_FULL);
    }
    const target = lane ?? this.openLane(key);
    target.length += 1;
    this.total += 1;
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = { task, resolve: resolve as (value: unknown) => void, reject, signal, onAbort: undefined };
      if (!target.running) return this.start(key, target, entry);
      target.waiting.push(entry);
      if (signal !== undefined) {
        entry.onAbort = () => this.drop(target, entry);
        signal.addListener(entry.onAbort);
      }
    });
  }

  private openLane(key: string): Lane {
    const lane: Lane = { waiting: [], next: 0, running: false, length: 0, dropped: 0 };
    this.lanes.set(key, lane);
    return lane;
  }

  private start(key: string, lane: Lane, entry: Entry): void {
    const task = entry.task!;
    entry.task = undefined;
    if (entry.onAbort !== undefined) entry.signal!.removeListener(entry.onAbort);
    lane.running = true;
    const finish = () => this.finish(key, lane);
    invoke(task).then(entry.resolve, entry.reject).then(finish, finish);
    entry.resolve = entry.reject = entry.signal = entry.onAbort = undefined;
  }

  private finish(key: string, lane: Lane): void {
    lane.running = false;
    lane.length -= 1;
    this.total -= 1;
    const entry = this.takeNext(lane);
    if (entry !== undefined) return this.start(key, lane, entry);
    if (lane.length === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
  }

  /** The next entry still waiting (dropped ones are skipped), or undefined. */
  private takeNext(lane: Lane): Entry | undefined {
    while (lane.next < lane.waiting.length) {
      const entry = lane.waiting[lane.next]!;
      lane.next += 1;
      if (entry.task !== undefined) {
        this.compact(lane);
        return entry;
      }
      lane.dropped -= 1;
    }
    lane.waiting = [];
    lane.next = 0;
    lane.dropped = 0;
    return undefined;
  }

  private compact(lane: Lane): void {
    if (lane.next < COMPACT_AFTER) return;
    lane.waiting = lane.waiting.slice(lane.next);
    lane.next = 0;
  }

  /** A waiting task's signal aborted: it leaves now, and its place, count and memory with it. */
  private drop(lane: Lane, entry: Entry): void {
    if (entry.task === undefined) return;
    const reject = entry.reject!;
    const reason: unknown = entry.signal!.reason;
    entry.task = entry.resolve = entry.reject = entry.signal = entry.onAbort = undefined;
    lane.length -= 1;
    lane.dropped += 1;
    this.total -= 1;
    this.sweep(lane);
    reject(reason);
  }

  /** Callers leaving a lane whose head runs long leave empty entries behind: sweep them out once they pile up. */
  private sweep(lane: Lane): void {
    if (lane.dropped < SWEEP_AFTER || lane.dropped * 2 < lane.waiting.length - lane.next) return;
    lane.waiting = lane.waiting.slice(lane.next).filter((entry) => entry.task !== undefined);
    lane.next = 0;
    lane.dropped = 0;
  }
}

/** A task that throws before it returns its promise fails like one that rejects. */
function invoke(task: () => Promise<unknown>): Promise<unknown> {
  try {
    return task();
  } catch (error) {
    return Promise.reject(error);
  }
}
