import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  CoalescedCheckpoint,
  DEFAULT_CHECKPOINT_COALESCING,
  FileCheckpointStore,
  MAX_CHECKPOINT_EVENTS,
  MAX_CHECKPOINT_INTERVAL_MS,
  MeshService,
  checkpointCoalescing,
  type CheckpointStore,
} from "@recq-mesh/kit";
import { itemTransferSaga, loadTodoConfig, todoNotifier } from "@recq-mesh/todo";

const noCheckpoints: CheckpointStore = { read: async () => 0, write: async () => undefined };

describe("an observer's or saga's checkpoint coalescing", () => {
  it("defaults to a write at most every 100 ms or 100 events, and takes any part given", () => {
    assert.deepEqual(checkpointCoalescing(undefined), { intervalMs: 100, maxEvents: 100 });
    assert.deepEqual(checkpointCoalescing({ intervalMs: 0 }), { ...DEFAULT_CHECKPOINT_COALESCING, intervalMs: 0 });
  });

  it("takes its bounds and refuses one past them, naming the setting", () => {
    assert.deepEqual(checkpointCoalescing({ intervalMs: MAX_CHECKPOINT_INTERVAL_MS, maxEvents: MAX_CHECKPOINT_EVENTS }), { intervalMs: 60_000, maxEvents: 100_000 });
    assert.deepEqual(checkpointCoalescing({ intervalMs: 0, maxEvents: 1 }), { intervalMs: 0, maxEvents: 1 });
    assert.throws(() => checkpointCoalescing({ intervalMs: 60_001 }), /checkpointCoalescing.intervalMs must be an integer from 0 to 60000, got 60001/);
    assert.throws(() => checkpointCoalescing({ intervalMs: -1 }), /checkpointCoalescing.intervalMs/);
    assert.throws(() => checkpointCoalescing({ intervalMs: 1.5 }), /checkpointCoalescing.intervalMs/);
    assert.throws(() => checkpointCoalescing({ maxEvents: 0 }), /checkpointCoalescing.maxEvents must be an integer from 1 to 100000, got 0/);
    assert.throws(() => checkpointCoalescing({ maxEvents: 100_001 }), /checkpointCoalescing.maxEvents/);
  });

  it("is checked when an observer or a saga is added, per consumer over the service's setting", () => {
    const mesh = new MeshService({ address: "127.0.0.1:1", component: "settings", checkpointCoalescing: { maxEvents: 0 } });
    assert.throws(() => mesh.addObserver(todoNotifier(noCheckpoints)), /checkpointCoalescing.maxEvents/);
    assert.throws(() => mesh.addSaga(itemTransferSaga(noCheckpoints)), /checkpointCoalescing.maxEvents/);
    mesh.close();
    const fixed = new MeshService({ address: "127.0.0.1:1", component: "settings", checkpointCoalescing: { maxEvents: 0 } });
    fixed.addObserver(todoNotifier(noCheckpoints), { checkpointCoalescing: { maxEvents: 10 } });
    fixed.addSaga(itemTransferSaga(noCheckpoints), { checkpointCoalescing: { maxEvents: 10 } });
    fixed.close();
  });

  it("is read by the TodoList service from TODO_CHECKPOINT_INTERVAL_MS and TODO_CHECKPOINT_MAX_EVENTS, checked at start", () => {
    assert.deepEqual(loadTodoConfig({}).checkpointCoalescing, DEFAULT_CHECKPOINT_COALESCING);
    assert.deepEqual(loadTodoConfig({ TODO_CHECKPOINT_INTERVAL_MS: "0", TODO_CHECKPOINT_MAX_EVENTS: "100000" }).checkpointCoalescing, { intervalMs: 0, maxEvents: 100_000 });
    assert.deepEqual(loadTodoConfig({ TODO_CHECKPOINT_INTERVAL_MS: "60000" }).checkpointCoalescing, { intervalMs: 60_000, maxEvents: 100 });
    assert.throws(() => loadTodoConfig({ TODO_CHECKPOINT_INTERVAL_MS: "60001" }), /TODO_CHECKPOINT_INTERVAL_MS must be an integer from 0 to 60000, got 60001/);
    assert.throws(() => loadTodoConfig({ TODO_CHECKPOINT_MAX_EVENTS: "0" }), /TODO_CHECKPOINT_MAX_EVENTS must be an integer from 1 to 100000, got 0/);
    assert.throws(() => loadTodoConfig({ TODO_CHECKPOINT_MAX_EVENTS: "ten" }), /TODO_CHECKPOINT_MAX_EVENTS must be a whole number, got "ten"/);
  });

  it("writes again at the next event after a write the interval started failed, and a later write supersedes it", async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), "recq-coalesced-"));
    try {
      const files = await FileCheckpointStore.open(folder);
      let failNext = true;
      // The real file store, failing its first write as a full disk would.
      const store: CheckpointStore = {
        read: (consumer) => files.read(consumer),
        write: async (consumer, position) => {
          if (failNext) {
            failNext = false;
            throw new Error("ENOSPC: no space left on device");
          }
          await files.write(consumer, position);
        },
      };
      const checkpoint = new CoalescedCheckpoint(store, "c", { intervalMs: 5, maxEvents: 100 });
      assert.equal(await checkpoint.read(), 0);
      await checkpoint.advance(3);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await files.read("c"), 0, "the interval's write failed");
      // The next event does not wait for the interval: it writes, and is handled once that write holds.
      await checkpoint.advance(4);
      assert.equal(await files.read("c"), 4);
      assert.equal(await checkpoint.read(), 4, "a reconnect resumes after the latest handled");

      // A failure no event saw is not what a flush (a drain's) reports: it writes.
      failNext = true;
      await checkpoint.advance(5);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await checkpoint.flush();
      assert.equal(await files.read("c"), 5);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
  it("fails every event while its store fails, the same event tried again included, and never counts one as durable", async () => {
    let writes = 0;
    const broken: CheckpointStore = {
      read: async () => 0,
      write: async () => {
        writes += 1;
        throw new Error("EIO: i/o error");
      },
    };
    const checkpoint = new CoalescedCheckpoint(broken, "c", { intervalMs: 60_000, maxEvents: 2 });
    await checkpoint.read();
    await checkpoint.advance(1);
    // The second event reaches maxEvents: it waits for the write, which fails, so it fails.
    await assert.rejects(checkpoint.advance(2), /EIO/);
    // Tried again (as the consumer does), it writes again rather than passing as handled.
    await assert.rejects(checkpoint.advance(2), /EIO/);
    await assert.rejects(checkpoint.advance(3), /EIO/);
    assert.equal(writes, 3);
  });
});
