import assert from "node:assert/strict";
import { afterAll, describe, test } from "@jest/globals";
import { MongoServerError, type Collection, type MongoClient } from "mongodb";
import { DuplicateCommandError } from "@recq-mesh/gateway/internal/store/duplicate-command-error";
import type { AppendRequest, AppendResult, EventStore, StoredEvent } from "@recq-mesh/gateway/internal/store/event-store";
import type { CounterDocument, EventDocument, OutcomeDocument } from "@recq-mesh/gateway/internal/store/mongo-event-documents";
import { MongoEventStore, type HeldBatch, type MongoEventStoreOptions } from "@recq-mesh/gateway/internal/store/mongo-event-store";
import { mongoTestsEnabled, MongoTestServer, type TestDatabase } from "../support/mongo";
import { runEventStoreContract } from "./event-store.suite";

/**
 * The MongoDB event store: the shared contract, then what only a real server can show — the global order under
 * late commits (the late-commit test with its negative control, and a randomised soak), and the adapter's own
 * duties. Runs when MONGODB_URI names a replica set; each test in a fresh database, dropped after.
 */
if (mongoTestsEnabled("MongoDB event store")) {
  const server = new MongoTestServer();
  afterAll(() => server.close());

  runEventStoreContract("mongodb", async ({ outcomeRetentionMs }) => {
    const database = await server.freshDatabase("contract");
    const client = await server.client();
    const open = () => MongoEventStore.open({ client, database: database.name, outcomeRetentionMs });
    let current = await open();
    return {
      store: current,
      reopen: async () => (current = await open()),
      cleanup: async () => {
        await current.close();
        await database.drop();
      },
    };
  });

  /** Opens stores on a fresh database; closes them and drops it after the test body. */
  const withDatabase = async (prefix: string, body: (open: (options?: Partial<MongoEventStoreOptions>) => Promise<MongoEventStore>, database: TestDatabase, client: MongoClient) => Promise<void>) => {
    const database = await server.freshDatabase(prefix);
    const client = await server.client();
    const stores: MongoEventStore[] = [];
    const open = async (options: Partial<MongoEventStoreOptions> = {}) => {
      const store = await MongoEventStore.open({ client, database: database.name, ...options });
      stores.push(store);
      return store;
    };
    try {
      await body(open, database, client);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await database.drop();
    }
  };

  describe("MongoDB event store: global order without skipped events", () => {
    test("a late commit holds readers back: they stay at n-1 until it commits, then see n, n+1 in order", () =>
      withDatabase("late", async (open) => {
        const held = holdBatch("held");
        const late = await open({ beforeCommit: held.hook });
        const other = await open();
        for (let n = 0; n < 3; n++) appended(await other.append(request("seed", n, `seed-${n}`, 1)));
        const follower = new Follower(other);
        try {
          await follower.reach(3);
          const lateAppend = late.append(request("late", 0, "held", 1));
          assert.deepEqual((await held.reached).positions, [4, 4], "A took position 4 and holds its transaction open");
          const behind = settles(other.append(request("early", 0, "behind", 1)));
          await delay(600);
          assert.equal(behind.settled, false, "B cannot take a position while A's transaction holds the counter");
          assert.equal(await other.headPosition(), 3);
          assert.deepEqual(await other.readAll(3, 10), []);
          assert.equal(follower.position, 3, "the reader stays at n-1");
          held.release();
          assert.equal(appended(await lateAppend).ack.position, 4);
          assert.equal(appended(await behind.promise).ack.position, 5);
          await follower.reach(5);
          assert.deepEqual(follower.seen.map((e) => [e.position, e.commandId]), [
            [1, "seed-0"],
            [2, "seed-1"],
            [3, "seed-2"],
            [4, "held"],
            [5, "behind"],
          ]);
          assert.deepEqual(follower.problems, []);
        } finally {
          held.release();
          await follower.stop();
        }
      }), 30_000,
    );

    test("a transaction that aborts after taking position n leaves no hole: the next append takes n", () =>
      withDatabase("abort", async (open) => {
        const held = holdBatch("doomed");
        const doomed = await open({ beforeCommit: held.hook });
        const other = await open();
        appended(await other.append(request("seed", 0, "seed", 2)));
        const follower = new Follower(other);
        try {
          const failing = settles(doomed.append(request("late", 0, "doomed", 1)));
          assert.deepEqual((await held.reached).positions, [3, 3]);
          const behind = settles(other.append(request("early", 0, "behind", 1)));
          await delay(300);
          assert.equal(behind.settled, false);
          held.abort(new Error("the transaction is aborted on purpose"));
          await assert.rejects(failing.promise, /command "doomed" was not stored: the transaction is aborted on purpose/);
          assert.equal(appended(await behind.promise).ack.position, 3, "position 3 is handed out again: the abort undid its $inc");
          await follower.reach(3);
          assert.deepEqual(follower.seen.map((e) => e.commandId), ["seed", "seed", "behind"]);
          assert.deepEqual(follower.problems, []);
          assert.equal(await other.findOutcome("doomed"), undefined);
          assert.equal((await other.readAggregate("TodoList", "late")).sequence, 0);
        } finally {
          held.release();
          await follower.stop();
        }
      }), 30_000,
    );

    // Single node. `beforeCommit` holds the snapshot-only transaction after its read (and its writes) until the
    // other store has had its chance to commit: without the counter write, it commits in between (write skew).
    test("a snapshot-only append on a stale expected sequence is not acknowledged: it conflicts with an append it overlaps", () =>
      withDatabase("write-skew", async (open) => {
        const held = holdBatch("snapshot-only");
        const snapshotting = await open({ beforeCommit: held.hook });
        const other = await open();
        appended(await other.append(request("x", 0, "seed", 1)));
        const snapshotOnly: AppendRequest = {
          ...request("x", 1, "snapshot-only", 0),
          snapshot: { sequence: 1, type: "test.v1.State", payload: Buffer.from("state at 1") },
        };
        const snapshot = settles(snapshotting.append(snapshotOnly));
        try {
          await held.reached;
          const moving = settles(other.append(request("x", 1, "moves-on", 1)));
          await delay(300);
          assert.equal(moving.settled, false, "the append to x waits for the transaction that checked x's sequence");
          held.release();
          assert.equal(appended(await snapshot.promise).ack.sequence, 1);
          assert.equal(appended(await moving.promise).ack.sequence, 2, "it ran again after the snapshot-only commit");
          const history = await other.readAggregate("TodoList", "x");
          assert.equal(history.snapshot?.sequence, 1);
          assert.equal(history.sequence, 2);
        } finally {
          held.release();
        }
      }), 30_000,
    );

    test("negative control: with positions taken outside the transaction, a late commit is skipped (and readAll refuses the hole)", () =>
      withDatabase("control", async (open, database, client) => {
        const store = await open();
        appended(await store.append(request("seed", 0, "seed", 1)));
        const events = database.db.collection<EventDocument>("events");
        const counters = database.db.collection<CounterDocument>("counters");
        const takePositionOutside = async () => (await counters.findOneAndUpdate({ _id: "events" }, { $inc: { position: 1 } }, { returnDocument: "after" }))?.position ?? 0;
        const follower = new Follower(store);
        const naive = new NaiveFollower(events);
        const sessionA = client.startSession();
        try {
          await follower.reach(1);
          await naive.reach(1);
          // A takes position 2 first, then inserts it in a transaction that stays open.
          const positionA = await takePositionOutside();
          sessionA.startTransaction({ readConcern: { level: "snapshot" } });
          await events.insertOne(eventDocument(positionA, "late", "a"), { session: sessionA });
          // B takes position 3 and commits at once.
          const positionB = await takePositionOutside();
          await events.insertOne(eventDocument(positionB, "early", "b"));
          // Both readers observe B's position 3 with A's position 2 still uncommitted, before A commits: the
          // checking reader must have met the hole by then, or it would read 2 and 3 after the commit and prove nothing.
          await naive.reach(3);
          await waitFor(() => follower.problems.length > 0);
          assert.match(follower.problems[0] ?? "", /hole: position 2 is missing before 3/);
          await sessionA.commitTransaction();
          await delay(300);
          assert.deepEqual(naive.seen, [1, 3], "a reader that follows `position > checkpoint` has passed position 2 for good");
        } finally {
          // Aborts A's transaction if the test failed before it committed, so that the database can be dropped.
          await sessionA.endSession();
          await follower.stop();
          await naive.stop();
        }
      }), 30_000,
    );

    test("soak: writers with random delays, conflicts and aborts on three stores; readers see every acknowledged event once, in order", () =>
      withDatabase("soak", async (open) => {
        const seed = Number(process.env.RECQ_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
        process.stderr.write(`mongodb soak: seed ${seed} (RECQ_SOAK_SEED=${seed} repeats its random choices; the timing of the server still varies)\n`);
        const random = mulberry32(seed);
        const beforeCommit = async () => {
          await delay(random() * 4);
          if (random() < 0.05) throw new Error("simulated abort");
        };
        const stores = [await open({ beforeCommit }), await open({ beforeCommit }), await open({ beforeCommit })];
        const readers = [new Follower(stores[0]!), new Follower(stores[1]!)];
        const acknowledged = new Map<string, Extract<AppendResult, { kind: "appended" }>>();
        const failed = new Set<string>();
        const aggregates = ["a", "b", "c", "d", "e"];
        const writers = 8;
        const appendsEach = 30;

        const write = async (writer: number) => {
          const store = stores[writer % stores.length]!;
          const expected = new Map<string, number>();
          for (let n = 0; n < appendsEach; n++) {
            const aggregate = aggregates[Math.floor(random() * aggregates.length)]!;
            const commandId = `w${writer}-${n}`;
            const eventCount = 1 + Math.floor(random() * 3);
            for (let attempt = 0; attempt < 5; attempt++) {
              await delay(random() * 5);
              let result: AppendResult;
              try {
                result = await store.append(request(aggregate, expected.get(aggregate) ?? 0, commandId, eventCount));
              } catch {
                failed.add(commandId);
                break;
              }
              if (result.kind === "conflict") {
                expected.set(aggregate, result.actualSequence);
                continue;
              }
              acknowledged.set(commandId, result);
              expected.set(aggregate, result.ack.sequence);
              break;
            }
          }
        };
        const writing = Promise.all(Array.from({ length: writers }, (_, writer) => write(writer)));
        // A projector restarts midway, from the position it had reached.
        await delay(300);
        const restarted = readers[1]!;
        await restarted.stop();
        const resumed = new Follower(stores[2]!, restarted.position);
        await writing;

        const head = await stores[0]!.headPosition();
        await Promise.all([readers[0]!.reach(head), resumed.reach(head)]);
        await readers[0]!.stop();
        await resumed.stop();
        const all = await stores[0]!.readAll(0, head + 10);
        process.stderr.write(`mongodb soak: ${acknowledged.size} appends acknowledged, ${failed.size} failed, ${head} events\n`);

        assert.deepEqual(all.map((e) => e.position), range(1, head), "positions are dense");
        assertPerAggregateOrder(all);
        const storedCommands = new Set(all.map((e) => e.commandId));
        assert.deepEqual([...storedCommands].sort(), [...acknowledged.keys()].sort(), "exactly the acknowledged appends are stored");
        for (const commandId of failed) assert.equal(await stores[1]!.findOutcome(commandId), undefined, `${commandId} failed: no outcome`);
        for (const [commandId, result] of acknowledged) {
          const events = all.filter((e) => e.commandId === commandId);
          assert.deepEqual(events.map((e) => e.position), range(result.ack.position - events.length + 1, result.ack.position), `${commandId} is contiguous and acked at its last position`);
          assert.deepEqual(await stores[2]!.findOutcome(commandId), { kind: "succeeded", ...result.ack });
        }
        assert.deepEqual(readers[0]!.seen, all, "a reader saw every event once, in order");
        assert.deepEqual([...restarted.seen, ...resumed.seen], all, "a restarted reader too");
        assert.deepEqual([...readers[0]!.problems, ...restarted.problems, ...resumed.problems], []);
      }), 240_000,
    );
  });

  describe("MongoDB event store: the adapter's own duties", () => {
    test("the same command id through two stores at once: one stores it, the other stores nothing and says why", () =>
      withDatabase("duplicate", async (open) => {
        const [first, second] = [await open(), await open()];
        const results = await Promise.allSettled([first.append(request("x", 0, "same", 1)), second.append(request("y", 0, "same", 1))]);
        const stored = results.filter((r) => r.status === "fulfilled");
        const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        assert.equal(stored.length, 1);
        assert.equal(refused.length, 1);
        assert.ok(refused[0]?.reason instanceof DuplicateCommandError);
        const events = await first.readAll(0, 10);
        assert.equal(events.length, 1);
        const winner = appended((stored[0] as PromiseFulfilledResult<AppendResult>).value);
        assert.deepEqual(await second.findOutcome("same"), { kind: "succeeded", ...winner.ack });
      }), 20_000,
    );

    test("a recorded failure never replaces an outcome within retention; an expired one is replaced", () =>
      withDatabase("outcomes", async (open) => {
        const store = await open({ outcomeRetentionMs: 1_000 });
        const ack = appended(await store.append(request("a", 0, "c1", 1))).ack;
        await store.recordFailure({ commandId: "c1", code: 10, message: "aborted", reason: "AGGREGATE_CONFLICT" });
        assert.deepEqual(await store.findOutcome("c1"), { kind: "succeeded", ...ack });
        await delay(1_100);
        assert.equal(await store.findOutcome("c1"), undefined, "the retention holds before the TTL monitor deletes");
        const again = appended(await store.append(request("b", 0, "c1", 1)));
        assert.deepEqual(await store.findOutcome("c1"), { kind: "succeeded", ...again.ack });
      }), 20_000,
    );

    test("opening is idempotent; a changed retention updates the TTL index in place", () =>
      withDatabase("indexes", async (open, database) => {
        await open({ outcomeRetentionMs: 60 * 60 * 1000 });
        await open({ outcomeRetentionMs: 60 * 60 * 1000 });
        await open({ outcomeRetentionMs: 2 * 60 * 60 * 1000 });
        const indexes = await database.db.collection("outcomes").indexes();
        assert.equal(indexes.find((index) => index.name === "recordedAt_ttl")?.expireAfterSeconds, 7200);
        const eventIndexes = await database.db.collection("events").indexes();
        const unique = eventIndexes.find((index) => index.name === "aggregate_sequence");
        assert.deepEqual([unique?.key, unique?.unique], [{ aggregateType: 1, aggregateId: 1, sequence: 1 }, true]);
      }), 20_000,
    );

    // Any replica set (a single node will do).
    test("a TTL index on recordedAt under another name is updated in place, not a reason to fail", () =>
      withDatabase("ttl-name", async (open, database) => {
        await database.db.collection("outcomes").createIndex({ recordedAt: 1 }, { name: "made_by_hand", expireAfterSeconds: 60 });
        await open({ outcomeRetentionMs: 2 * 60 * 60 * 1000 });
        const ttl = (await database.db.collection("outcomes").indexes()).filter((index) => index.key.recordedAt === 1);
        assert.deepEqual(
          ttl.map((index) => [index.name, index.expireAfterSeconds]),
          [["made_by_hand", 7200]],
        );
      }), 20_000,
    );

    // Any replica set (a single node will do).
    test("a position counter behind the events is raised where an append meets a taken position: that append and the next are stored", () =>
      withDatabase("counter-behind", async (open, database) => {
        const store = await open();
        appended(await store.append(request("seed", 0, "seed", 3)));
        // As after events written around the store, or a counter restored from an older copy.
        await database.db.collection<CounterDocument>("counters").updateOne({ _id: "events" }, { $set: { position: 1 } });
        assert.equal(appended(await store.append(request("a", 0, "c1", 1))).ack.position, 4, "position 2 was taken: the counter is raised to 3, the batch runs again");
        assert.equal(appended(await store.append(request("a", 1, "c2", 1))).ack.position, 5);
        assert.deepEqual((await store.readAll(0, 10)).map((e) => [e.position, e.commandId]), [
          [1, "seed"],
          [2, "seed"],
          [3, "seed"],
          [4, "c1"],
          [5, "c2"],
        ]);
        assert.equal(await store.headPosition(), 5);
      }), 20_000,
    );

    test("readAll refuses to pass a hole in the positions", () =>
      withDatabase("hole", async (open, database) => {
        const store = await open();
        appended(await store.append(request("a", 0, "c1", 3)));
        await database.db.collection<EventDocument>("events").deleteOne({ _id: 2 });
        await assert.rejects(store.readAll(0, 10), /hole: position 2 is missing before 3/);
        assert.deepEqual((await store.readAll(2, 10)).map((e) => e.position), [3]);
      }), 20_000,
    );

    test("onAppended hears appends made through another store (the change stream)", () =>
      withDatabase("wake", async (open) => {
        const [listening, appending] = [await open(), await open()];
        const heads: number[] = [];
        listening.onAppended((head) => heads.push(head));
        await delay(500); // the stream opens
        appended(await appending.append(request("a", 0, "c1", 2)));
        await waitFor(() => heads.includes(2), 5_000);
      }), 20_000,
    );

    // Any replica set (a single node will do).
    test("onAppended follows the position counter: a move of the counter alone is heard", () =>
      withDatabase("wake-counter", async (open, database) => {
        const listening = await open();
        const heads: number[] = [];
        listening.onAppended((head) => heads.push(head));
        await delay(500); // the stream opens
        // No event is inserted: only the counter's change can tell the store of the new head (a stream on events
        // would not, and the store polls only while its stream is down).
        await database.db.collection<CounterDocument>("counters").updateOne({ _id: "events" }, { $inc: { position: 2 } });
        await waitFor(() => heads.includes(2), 5_000);
        assert.deepEqual(heads, [2]);
      }), 20_000,
    );

    // Single node: the write conflicts are the hook's. A PSA set with its secondary down provokes the other half of
    // the bound (each commit's maxTimeMS, answered MaxTimeMSExpired), which a single node cannot.
    test("a batch that keeps meeting write conflicts fails after commitTimeoutMs instead of retrying for 120 s; close() returns", () =>
      withDatabase("commit-timeout", async (open) => {
        let attempts = 0;
        const store = await open({
          commitTimeoutMs: 300,
          beforeCommit: async () => {
            attempts += 1;
            await delay(50);
            throw new MongoServerError({ message: "write conflict (from the test hook)", code: 112, codeName: "WriteConflict", errorLabels: ["TransientTransactionError"] });
          },
        });
        await assert.rejects(store.append(request("a", 0, "bounded", 1)), /command "bounded" was not stored: the transaction did not commit within 300 ms \(commitTimeoutMs\)/);
        assert.ok(attempts > 1, `withTransaction retried the write conflicts (${attempts} attempts)`);
        await store.close();
        const reader = await open();
        assert.equal(await reader.headPosition(), 0);
        assert.equal(await reader.findOutcome("bounded"), undefined);
      }), 20_000,
    );

    // Single node: the `afterCommit` hook turns a commit that succeeded into one whose result the store does not
    // know, as the driver reports after MaxTimeMSExpired at commit or a network error during it.
    const unknownCommit = () =>
      new MongoServerError({ message: "operation exceeded time limit (from the test hook)", code: 50, codeName: "MaxTimeMSExpired", errorLabels: ["UnknownTransactionCommitResult"] });

    test("a commit whose result is unknown but that committed is answered as appended, with its ack", () =>
      withDatabase("unknown-commit", async (open) => {
        const store = await open({
          afterCommit: async () => {
            throw unknownCommit();
          },
        });
        const result = appended(await store.append(request("a", 0, "maybe", 2)));
        assert.deepEqual(result.ack, { commandId: "maybe", position: 2, sequence: 2 });
        const reader = await open();
        assert.deepEqual(await reader.findOutcome("maybe"), { kind: "succeeded", ...result.ack });
        assert.equal(await reader.headPosition(), 2);
      }), 20_000,
    );

    test("a commit whose result is unknown is not mistaken for another batch's outcome of the same command id", () =>
      withDatabase("unknown-duplicate", async (open, database, client) => {
        const outcomes = client.db(database.name).collection<OutcomeDocument>("outcomes");
        const store = await open({
          afterCommit: async () => {
            // What a concurrent duplicate of the command id would leave had this batch not committed: an outcome
            // with the same command id, position and sequence, from another batch.
            const mine = await outcomes.findOne({ _id: "maybe" });
            assert.ok(mine?.batchId !== undefined, "the outcome names its batch");
            await outcomes.replaceOne({ _id: "maybe" }, { ...mine, batchId: "another gateway's batch" });
            throw unknownCommit();
          },
        });
        await assert.rejects(store.append(request("a", 0, "maybe", 1)), /command "maybe" may or may not be stored: its commit's result is unknown \(.*\), and a majority read does not find its outcome yet; retry with the same command id/);
      }), 20_000,
    );

    test("an append larger than a batch may be is refused before anything is stored", () =>
      withDatabase("limits", async (open) => {
        const store = await open({ maxBatchBytes: 4096, maxPayloadBytes: 100_000 });
        await assert.rejects(store.append(request("a", 0, "big", 1, 10_000)), { name: "AppendRejectedError", message: /more than maxBatchBytes \(4096\)/ });
        assert.equal(await store.headPosition(), 0);
      }), 20_000,
    );
  });
}

// ---- helpers ----

function request(aggregateId: string, expectedSequence: number, commandId: string, eventCount: number, payloadBytes?: number): AppendRequest {
  const events = Array.from({ length: eventCount }, (_, n) => ({
    type: "test.v1.Happened",
    payload: payloadBytes === undefined ? Buffer.from(`${commandId}/${n}`) : Buffer.alloc(payloadBytes, 1),
    metadata: { n: String(n) },
  }));
  return { aggregateType: "TodoList", aggregateId, expectedSequence, commandId, events };
}

function appended(result: AppendResult): Extract<AppendResult, { kind: "appended" }> {
  assert.equal(result.kind, "appended", `expected an append, got ${JSON.stringify(result)}`);
  return result as Extract<AppendResult, { kind: "appended" }>;
}

function eventDocument(position: number, aggregateId: string, commandId: string): EventDocument {
  return { _id: position, aggregateType: "TodoList", aggregateId, sequence: 1, type: "E", payload: Buffer.from(commandId), timeMs: Date.now(), commandId, metadata: [] };
}

/** A `beforeCommit` hook that holds the transaction storing `commandId` until released (or aborts it). */
function holdBatch(commandId: string) {
  let reach: (batch: HeldBatch) => void = () => undefined;
  let release: () => void = () => undefined;
  let abort: (error: Error) => void = () => undefined;
  const reached = new Promise<HeldBatch>((resolve) => (reach = resolve));
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    abort = reject;
  });
  gate.catch(() => undefined);
  const hook = async (batch: HeldBatch) => {
    if (!batch.commandIds.includes(commandId)) return;
    reach(batch);
    await gate;
  };
  return { hook, reached, release: () => release(), abort: (error: Error) => abort(error) };
}

function settles<T>(promise: Promise<T>): { promise: Promise<T>; readonly settled: boolean } {
  const state = { promise, settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/** A projector's reader: follows `readAll` from its position, and notes any gap or error instead of skipping. */
class Follower {
  readonly seen: StoredEvent[] = [];
  readonly problems: string[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly store: EventStore,
    public position = 0,
  ) {
    this.loop = this.run();
  }

  async reach(position: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(() => this.position >= position || this.problems.length > 0, timeoutMs);
    assert.deepEqual(this.problems, []);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        for (const event of await this.store.readAll(this.position, 100)) {
          if (event.position !== this.position + 1) this.problems.push(`gap: ${this.position} → ${event.position}`);
          this.position = event.position;
          this.seen.push(event);
        }
      } catch (error: unknown) {
        this.problems.push(error instanceof Error ? error.message : String(error));
        return;
      }
      await delay(5);
    }
  }
}

/** The reader the note warns about: `position > checkpoint`, no check for holes. */
class NaiveFollower {
  readonly seen: number[] = [];
  private position = 0;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly events: Collection<EventDocument>) {
    this.loop = this.run();
  }

  reach(position: number): Promise<void> {
    return waitFor(() => this.position >= position, 10_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const found = await this.events.find({ _id: { $gt: this.position } }, { sort: { _id: 1 }, readConcern: { level: "majority" } }).toArray();
      for (const event of found) {
        this.position = event._id;
        this.seen.push(event._id);
      }
      await delay(5);
    }
  }
}

function assertPerAggregateOrder(events: StoredEvent[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    const key = `${e.aggregateType}/${e.aggregateId}`;
    assert.equal(e.sequence, (last.get(key) ?? 0) + 1, `${key} continues in position order at position ${e.position}`);
    last.set(key, e.sequence);
  }
}

/** A small seeded generator, so that a failing soak can be run again with the same choices. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, index) => from + index);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await delay(5);
  }
}
