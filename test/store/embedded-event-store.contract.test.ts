import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { appendFile, copyFile, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, test } from "@jest/globals";
import { EmbeddedEventStore, JOURNAL_FILE_NAME, type EmbeddedEventStoreOptions } from "@recq-mesh/gateway/internal/store/embedded-event-store";
import type { StoreLogger } from "@recq-mesh/gateway/internal/store/embedded-store-options";
import type { AppendRequest, AppendResult, EventStore, StoredEvent } from "@recq-mesh/gateway/internal/store/event-store";
import { CHECKPOINT_FILE_NAME } from "@recq-mesh/gateway/internal/store/index-checkpoint";
import { JOURNAL_MAGIC } from "@recq-mesh/gateway/internal/store/journal-file";
import { JournalCorruptionError } from "@recq-mesh/gateway/internal/store/journal-replay";
import { compiledScript } from "../support/repository";
import { itWith } from "../support/required-tool";
import { runEventStoreContract } from "./event-store.suite";

/** prlimit caps a process's file size: how the write-failure test makes a real write fail. */
const PRLIMIT = { tool: "prlimit", install: "apt-get install -y util-linux", available: spawnSync("prlimit", ["--version"]).status === 0 };

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "recq-embedded-store-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let directories = 0;
function freshDirectory(): string {
  directories += 1;
  return path.join(scratch, `store-${directories}`);
}

function contractStore(cacheBytes?: number) {
  return async ({ outcomeRetentionMs }: { outcomeRetentionMs: number }) => {
    const directory = freshDirectory();
    let current = await EmbeddedEventStore.open({ directory, outcomeRetentionMs, cacheBytes });
    return {
      store: current,
      reopen: async () => (current = await EmbeddedEventStore.open({ directory, outcomeRetentionMs, cacheBytes })),
      cleanup: () => current.close(),
    };
  };
}

runEventStoreContract("embedded", contractStore());
// A cache too small for any record: every read goes to the journal file.
runEventStoreContract("embedded, every read from the journal", contractStore(1));

describe("embedded event store: journal", () => {
  test("creates its data folder and a journal with the format header", async () => {
    const directory = path.join(freshDirectory(), "nested", "data");
    const store = await EmbeddedEventStore.open({ directory });
    appended(await store.append(request("a", 0, "c1", 1)));
    await store.close();
    const journal = await readFile(path.join(directory, JOURNAL_FILE_NAME));
    assert.deepEqual(journal.subarray(0, JOURNAL_MAGIC.length), JOURNAL_MAGIC);
    assert.ok(journal.length > 100);
  });

  test("cuts off garbage after the last record and keeps every complete record", async () => {
    const { directory, journal } = await journalWith(5);
    const cleanLength = (await stat(journal)).size;
    await appendFile(journal, Buffer.from("GARBAGE written by a crash mid-record"));
    const warnings: string[] = [];
    const store = await EmbeddedEventStore.open({ directory, logger: recordingLogger(warnings) });
    assert.deepEqual(store.recovery.tornTail?.offset, cleanLength);
    assert.equal(store.recovery.records, 5);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /torn/);
    assert.equal((await stat(journal)).size, cleanLength);
    await assertCommands(store, 5);

    appended(await store.append(request("a", 5, "after-recovery", 1)));
    await store.close();
    const again = await EmbeddedEventStore.open({ directory });
    assert.equal(again.recovery.tornTail, undefined);
    assert.equal((await again.readAggregate("Test", "a")).sequence, 6);
    await again.close();
  });

  test("drops a record cut short and keeps the ones before it", async () => {
    const { directory, journal } = await journalWith(4);
    await truncate(journal, (await stat(journal)).size - 7);
    const store = await EmbeddedEventStore.open({ directory });
    assert.equal(store.recovery.records, 3);
    await assertCommands(store, 3);
    assert.equal(await store.findOutcome("c4"), undefined);
    assert.equal((await store.readAggregate("Test", "a")).sequence, 3);
    await store.close();
  });

  test("cuts off zeros a crash left after the last record", async () => {
    const { directory, journal } = await journalWith(2);
    const cleanLength = (await stat(journal)).size;
    await appendFile(journal, Buffer.alloc(4096));
    const store = await EmbeddedEventStore.open({ directory });
    assert.equal(store.recovery.tornTail?.bytes, 4096);
    assert.equal((await stat(journal)).size, cleanLength);
    await assertCommands(store, 2);
    await store.close();
  });

  test("refuses to open a journal damaged before its last record, when it replays it", async () => {
    const { directory, journal } = await journalWith(3);
    await rm(path.join(directory, CHECKPOINT_FILE_NAME));
    await flipByte(journal, JOURNAL_MAGIC.length + 20);
    await assert.rejects(EmbeddedEventStore.open({ directory }), (error: unknown) => {
      assert.ok(error instanceof JournalCorruptionError);
      assert.equal(error.offset, JOURNAL_MAGIC.length);
      assert.match(error.message, /damaged at byte 8: a record whose checksum does not match, followed by \d+ more bytes/);
      return true;
    });
    // The failed open released its lock: the same error again, not "in use".
    await assert.rejects(EmbeddedEventStore.open({ directory }), JournalCorruptionError);
  });

  test("refuses a file that is not a journal", async () => {
    const directory = freshDirectory();
    await EmbeddedEventStore.open({ directory }).then((store) => store.close());
    await writeFile(path.join(directory, JOURNAL_FILE_NAME), "not a journal at all");
    await assert.rejects(EmbeddedEventStore.open({ directory }), /not a RECQ event journal/);
  });

  test("refuses a second store on the same directory while the first is open", async () => {
    const directory = freshDirectory();
    const store = await EmbeddedEventStore.open({ directory });
    await assert.rejects(EmbeddedEventStore.open({ directory }), /already open/);
    await store.close();
    await EmbeddedEventStore.open({ directory }).then((again) => again.close());
  });
});

describe("embedded event store: memory", () => {
  test("answers the same from the journal as from its cache, before and after a restart", async () => {
    const directory = freshDirectory();
    const cached = await EmbeddedEventStore.open({ directory });
    const appendedEvents = await appendVariety(cached);
    const fromCache = await everythingIn(cached);
    assert.deepEqual(fromCache.all, appendedEvents);
    assert.ok(cached.stats().cachedRecords > 0);
    // Every record is cached, failures and commits of no events too: a consumer's reads walk them in memory.
    assert.equal(cached.stats().scannedBytes, 0);
    await cached.close();

    const uncached = await EmbeddedEventStore.open({ directory, cacheBytes: 1 });
    assert.deepEqual(await everythingIn(uncached), fromCache);
    assert.equal(uncached.stats().cachedRecords, 0);
    assert.ok(uncached.stats().scannedBytes > 0);
    await uncached.close();
  });

  test("keeps its cache within cacheBytes and reads what it evicted back from the journal", async () => {
    const cacheBytes = 16 * 1024;
    const store = await EmbeddedEventStore.open({ directory: freshDirectory(), cacheBytes });
    const appendedEvents: StoredEvent[] = [];
    for (let n = 0; n < 100; n++) appendedEvents.push(...appendedOf(await store.append(request(`agg-${n % 10}`, 2 * Math.floor(n / 10), `c${n}`, 2, 500))));
    const { cachedBytes, cachedRecords } = store.stats();
    assert.ok(cachedBytes <= cacheBytes && cachedBytes > cacheBytes / 2, `the cache holds ${cachedBytes} bytes`);
    assert.ok(cachedRecords < 100, `the cache holds ${cachedRecords} of 100 records`);
    assert.deepEqual(await store.readAll(0, 1000), appendedEvents);
    assert.deepEqual((await store.readAggregate("Test", "agg-0")).events, appendedEvents.filter((e) => e.aggregateId === "agg-0"));
    await store.close();
  });

  test("reads a consumer's batch of large events in several bounded reads", async () => {
    const store = await EmbeddedEventStore.open({ directory: freshDirectory(), cacheBytes: 1 });
    const appendedEvents: StoredEvent[] = [];
    for (let n = 0; n < 8; n++) appendedEvents.push(...appendedOf(await store.append(request("big", n * 5, `big-${n}`, 5, 64 * 1024))));
    const events = await store.readAll(0, 100);
    assert.deepEqual(events, appendedEvents);
    assert.equal(events.reduce((sum, e) => sum + e.payload.length, 0), 40 * 64 * 1024);
    await store.close();
  });

  test("refuses to answer with a record the journal no longer holds", async () => {
    const { directory, journal } = await journalWith(3);
    const store = await EmbeddedEventStore.open({ directory, cacheBytes: 1 });
    await flipByte(journal, (await stat(journal)).size - 2);
    await assert.rejects(store.readAll(0, 10), /no longer holds the record it held at byte \d+: the file was changed or damaged/);
    assert.equal((await store.readAll(0, 2)).length, 2);
    await store.close();
  });

  test("rejects a cacheBytes that is not a positive integer", async () => {
    await assert.rejects(EmbeddedEventStore.open({ directory: freshDirectory(), cacheBytes: 0 }), /cacheBytes must be a positive integer/);
  });
});

describe("embedded event store: index checkpoint", () => {
  test("is written on close and read on open instead of replaying, with the same answers", async () => {
    const directory = freshDirectory();
    const store = await EmbeddedEventStore.open({ directory });
    await appendVariety(store);
    const before = { ...(await everythingIn(store)), outcomes: await outcomesIn(store) };
    await store.close();
    const journalBytes = (await stat(path.join(directory, JOURNAL_FILE_NAME))).size;

    const fromCheckpoint = await EmbeddedEventStore.open({ directory, cacheBytes: 1 });
    assert.equal(fromCheckpoint.recovery.checkpointBytes, journalBytes);
    assert.deepEqual({ ...(await everythingIn(fromCheckpoint)), outcomes: await outcomesIn(fromCheckpoint) }, before);
    const records = fromCheckpoint.recovery.records;
    await fromCheckpoint.close();

    await rm(path.join(directory, CHECKPOINT_FILE_NAME));
    const replayed = await EmbeddedEventStore.open({ directory, cacheBytes: 1 });
    assert.equal(replayed.recovery.checkpointBytes, 0);
    assert.equal(replayed.recovery.records, records);
    assert.deepEqual({ ...(await everythingIn(replayed)), outcomes: await outcomesIn(replayed) }, before);
    await replayed.close();
  });

  test("of an earlier prefix (as a crash leaves it) is used, and the records after it replayed", async () => {
    const { directory } = await journalWith(3);
    const checkpoint = path.join(directory, CHECKPOINT_FILE_NAME);
    await copyFile(checkpoint, `${checkpoint}.earlier`);
    const covered = (await stat(path.join(directory, JOURNAL_FILE_NAME))).size;
    const store = await EmbeddedEventStore.open({ directory });
    for (let n = 3; n < 6; n++) appended(await store.append(request("a", n, `c${n + 1}`, 1)));
    await store.close();
    await copyFile(`${checkpoint}.earlier`, checkpoint);

    const reopened = await EmbeddedEventStore.open({ directory });
    assert.equal(reopened.recovery.checkpointBytes, covered);
    assert.equal(reopened.recovery.records, 6);
    await assertCommands(reopened, 6);
    assert.equal((await reopened.readAggregate("Test", "a")).sequence, 6);
    appended(await reopened.append(request("a", 6, "c7", 1)));
    await reopened.close();
  });

  test("is ignored, with a warning, when the journal no longer holds what it covers", async () => {
    const { directory, journal } = await journalWith(4);
    const lengths = await recordEnds(directory, 4);
    await truncate(journal, lengths[2]);
    const warnings: string[] = [];
    const store = await EmbeddedEventStore.open({ directory, logger: recordingFields(warnings) });
    assert.equal(store.recovery.checkpointBytes, 0);
    assert.equal(store.recovery.records, 3);
    assert.match(warnings.join("\n"), /index checkpoint was ignored.*covers \d+ bytes of the journal, which has \d+/);
    await assertCommands(store, 3);
    assert.equal(await store.findOutcome("c4"), undefined);
    await store.close();
  });

  test("is ignored when damaged or cut short, and the journal replayed", async () => {
    for (const damage of [(file: string) => flipByte(file, 40), async (file: string) => truncate(file, (await stat(file)).size - 3)]) {
      const { directory } = await journalWith(3);
      await damage(path.join(directory, CHECKPOINT_FILE_NAME));
      const warnings: string[] = [];
      const store = await EmbeddedEventStore.open({ directory, logger: recordingFields(warnings) });
      assert.equal(store.recovery.checkpointBytes, 0);
      assert.match(warnings.join("\n"), /index checkpoint was ignored.*(checksum does not match|could not be read|no longer holds)/);
      await assertCommands(store, 3);
      await store.close();
    }
  });

  test("is ignored when a damaged count claims more entries than it holds, before allocating them", async () => {
    const { directory } = await journalWith(3);
    const checkpoint = path.join(directory, CHECKPOINT_FILE_NAME);
    const bytes = await readFile(checkpoint);
    bytes.writeDoubleLE(2 ** 40, 40); // the event count, right after the header's five fields
    await writeFile(checkpoint, bytes);
    const warnings: string[] = [];
    const store = await EmbeddedEventStore.open({ directory, logger: recordingFields(warnings) });
    assert.match(warnings.join("\n"), /it claims \d+ entries at byte 48, more than it holds/);
    await assertCommands(store, 3);
    await store.close();
  });

  test("still lets a torn tail after it be cut off", async () => {
    const { directory, journal } = await journalWith(3);
    const cleanLength = (await stat(journal)).size;
    await appendFile(journal, Buffer.from("half a record"));
    const store = await EmbeddedEventStore.open({ directory });
    assert.equal(store.recovery.checkpointBytes, cleanLength);
    assert.equal(store.recovery.tornTail?.offset, cleanLength);
    assert.equal((await stat(journal)).size, cleanLength);
    appended(await store.append(request("a", 3, "c4", 1)));
    await assertCommands(store, 4);
    await store.close();
  });

  test("leaves damage inside what it covers to be found when that record is read", async () => {
    const { directory, journal } = await journalWith(3);
    await flipByte(journal, JOURNAL_MAGIC.length + 20);
    const store = await EmbeddedEventStore.open({ directory });
    assert.ok(store.recovery.checkpointBytes > 0);
    await assert.rejects(store.readAll(0, 1), /no longer holds the record it held at byte 8/);
    await store.close();
  });
});

describe("embedded event store: limits", () => {
  const limits: Omit<EmbeddedEventStoreOptions, "directory"> = { maxEventsPerAppend: 3, maxPayloadBytes: 1024, maxWriteBytes: 8192 };

  test("rejects an append with too many events, and only that append", async () => {
    const store = await EmbeddedEventStore.open({ directory: freshDirectory(), ...limits });
    const [tooMany, fine] = await Promise.allSettled([store.append(request("a", 0, "too-many", 4)), store.append(request("a", 0, "fine", 3))]);
    assert.equal(tooMany.status, "rejected");
    assert.match(String((tooMany as PromiseRejectedResult).reason), /4 events, more than maxEventsPerAppend \(3\)/);
    assert.equal(fine.status === "fulfilled" && fine.value.kind, "appended");
    assert.equal(await store.findOutcome("too-many"), undefined);
    await store.close();
  });

  test("rejects a payload or snapshot over maxPayloadBytes", async () => {
    const store = await EmbeddedEventStore.open({ directory: freshDirectory(), ...limits });
    await assert.rejects(store.append(request("a", 0, "big-event", 1, 1025)), /1025-byte payload, more than maxPayloadBytes \(1024\)/);
    const snapshot = { sequence: 1, type: "S", payload: Buffer.alloc(1025) };
    await assert.rejects(store.append({ ...request("a", 0, "big-snapshot", 1), snapshot }), /snapshot has 1025 bytes, more than maxPayloadBytes/);
    appended(await store.append(request("a", 0, "fits", 1, 1024)));
    await store.close();
  });

  test("rejects an append whose record would not fit in one write", async () => {
    const store = await EmbeddedEventStore.open({ directory: freshDirectory(), ...limits });
    const oversized = request("a", 0, "oversized", 3, 1000);
    oversized.events[0].metadata = { note: "x".repeat(6000) };
    const [rejected, other] = await Promise.allSettled([store.append(oversized), store.append(request("b", 0, "other", 1))]);
    assert.match(String((rejected as PromiseRejectedResult).reason), /more than maxWriteBytes \(8192\)/);
    assert.equal(other.status === "fulfilled" && other.value.kind, "appended");
    appended(await store.append(request("a", 0, "after", 1)));
    assert.deepEqual((await store.readAll(0, 10)).map((e) => e.commandId), ["other", "after"]);
    await store.close();
  });

  test("cuts group-commit batches at maxWriteBytes", async () => {
    const store = await EmbeddedEventStore.open({ directory: freshDirectory(), ...limits });
    (await Promise.all(Array.from({ length: 20 }, (_, n) => store.append(request(`agg-${n}`, 0, `c${n}`, 1, 1000))))).forEach(appended);
    const { writes, syncs } = store.stats();
    assert.ok(writes >= 3 && writes <= 6, `20 records of ~1 KiB in 8 KiB writes took ${writes} writes`);
    assert.equal(syncs, writes);
    await store.close();
  });

  test("rejects bad shapes with clear errors", async () => {
    const store = await EmbeddedEventStore.open({ directory: freshDirectory() });
    await assert.rejects(store.append(request("a", 0, "", 1)), /command id/);
    await assert.rejects(store.append(request("a", -1, "c", 1)), /expectedSequence/);
    await assert.rejects(store.append({ ...request("a", 0, "c", 1), snapshot: { sequence: 2, type: "S", payload: Buffer.alloc(1) } }), /snapshot is at sequence 2/);
    await assert.rejects(EmbeddedEventStore.open({ directory: freshDirectory(), maxWriteBytes: 0 }), /maxWriteBytes must be a positive integer/);
    await store.close();
  });
});

describe("embedded event store: group commit and durability", () => {
  test("batches concurrent appends into far fewer fdatasyncs", async () => {
    const store = await EmbeddedEventStore.open({ directory: freshDirectory() });
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => store.append(request(`agg-${n}`, 0, `c${n}`, 1))));
    results.forEach(appended);
    const concurrent = store.stats();
    assert.ok(concurrent.syncs <= 5, `200 concurrent appends took ${concurrent.syncs} fdatasyncs`);
    assert.equal(concurrent.records, 200);

    // One at a time, each append waits for its own sync: none is acknowledged before its bytes are durable.
    for (let n = 0; n < 5; n++) appended(await store.append(request("sequential", n, `s${n}`, 1)));
    assert.equal(store.stats().syncs, concurrent.syncs + 5);
    await store.close();
  });

  test("conflicts with an append still being synced, and a read after the conflict sees the winner", async () => {
    const store = await EmbeddedEventStore.open({ directory: freshDirectory() });
    let firstSettled = false;
    const first = store.append(request("a", 0, "first", 1)).finally(() => (firstSettled = true));
    await new Promise((resolve) => setImmediate(resolve)); // the writer's turn: the first record is being written
    assert.deepEqual(await store.append(request("a", 0, "second", 1)), { kind: "conflict", actualSequence: 1 });
    assert.equal(firstSettled, false, "the conflict was decided while the first append was in flight");
    const history = await store.readAggregate("Test", "a");
    assert.deepEqual(history.events.map((e) => e.commandId), ["first"]);
    appended(await first);
    await store.close();
  });

  test("close waits for pending appends", async () => {
    const store = await EmbeddedEventStore.open({ directory: freshDirectory() });
    const pending = store.append(request("a", 0, "pending", 1));
    await store.close();
    appended(await pending);
    await assert.rejects(store.append(request("a", 1, "late", 1)), /closed/);
  });

  test("logs a listener that throws and still calls the others", async () => {
    const messages: string[] = [];
    const store = await EmbeddedEventStore.open({ directory: freshDirectory(), logger: recordingLogger(messages) });
    const heads: number[] = [];
    store.onAppended(() => {
      throw new Error("listener bug");
    });
    store.onAppended((head) => heads.push(head));
    appended(await store.append(request("a", 0, "c1", 2)));
    assert.deepEqual(heads, [2]);
    assert.deepEqual(messages, ["error: an onAppended listener threw; the store carries on"]);
    await store.close();
  });

  test("keeps every acknowledged command after kill -9 mid-append", async () => {
    const directory = freshDirectory();
    const child = spawn(process.execPath, [compiledScript("store/fixtures/append-loop.js"), directory], { stdio: ["ignore", "pipe", "pipe"] });
    const output = collect(child.stdout);
    const errors = collect(child.stderr);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
    await waitFor(() => output.text.startsWith("ready\n") || errors.text !== "" || child.exitCode !== null, 5000);
    assert.equal(errors.text, "", "the child started cleanly");
    await delay(300);
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");

    const lines = output.text.slice(0, output.text.lastIndexOf("\n")).split("\n").slice(1);
    const acks = lines.filter((line) => line.startsWith("ack ")).map((line) => line.split(" "));
    const failures = lines.filter((line) => line.startsWith("failed ")).map((line) => line.split(" ")[1]);
    assert.ok(acks.length >= 20, `the child acknowledged ${acks.length} appends before it was killed`);

    const store = await EmbeddedEventStore.open({ directory });
    for (const [, commandId, aggregateId, position, sequence] of acks) {
      assert.deepEqual(await store.findOutcome(commandId), { kind: "succeeded", commandId, position: Number(position), sequence: Number(sequence) });
      const [stored] = await store.readAll(Number(position) - 1, 1);
      assert.deepEqual([stored?.commandId, stored?.aggregateId, stored?.sequence, stored?.payload.toString()], [commandId, aggregateId, Number(sequence), commandId]);
    }
    for (const commandId of failures) assert.equal((await store.findOutcome(commandId))?.kind, "failed");
    const head = await store.headPosition();
    assert.deepEqual((await store.readAll(0, head)).map((e) => e.position), Array.from({ length: head }, (_, i) => i + 1));
    await store.close();
  }, 15_000);

  itWith(PRLIMIT)("fails a batch whose write fails, hides it, and goes on", async () => {
    const directory = freshDirectory();
    const fixture = compiledScript("store/fixtures/append-past-file-limit.js");
    const run = spawnSync("prlimit", [`--fsize=${64 * 1024}`, process.execPath, fixture, directory], { encoding: "utf8", timeout: 8000 });
    assert.equal(run.status, 0, `the child failed: ${run.stderr}`);
    const report = JSON.parse(run.stdout) as FileLimitReport;

    assert.match(report.big.rejected ?? "", /command "big" was not stored: the journal write failed \(EFBIG/);
    assert.match(report.behind.rejected ?? "", /command "behind" was not stored/);
    assert.match(report.other.rejected ?? "", /command "other" was not stored/);
    assert.deepEqual(report.afterFailure, { sequenceA: 10, sequenceB: 0, head: 10, syncs: 0 });
    assert.deepEqual(report.retry, { commandId: "retry", position: 11, sequence: 11 });
    assert.deepEqual(report.afterReopen, { sequenceA: 11, head: 11, positions: Array.from({ length: 11 }, (_, i) => i + 1), tornTail: null });
  }, 10_000);
});

interface FileLimitReport {
  big: { rejected?: string };
  behind: { rejected?: string };
  other: { rejected?: string };
  afterFailure: unknown;
  retry: unknown;
  afterReopen: unknown;
}

// ---- helpers ----

function request(aggregateId: string, expectedSequence: number, commandId: string, eventCount: number, payloadBytes = 16): AppendRequest {
  const events = Array.from({ length: eventCount }, (_, n) => ({
    type: "test.v1.Happened",
    payload: Buffer.alloc(payloadBytes, n + 1),
    metadata: { n: String(n) },
  }));
  return { aggregateType: "Test", aggregateId, expectedSequence, commandId, events };
}

function appended(result: AppendResult): void {
  assert.equal(result.kind, "appended", `expected an append, got ${JSON.stringify(result)}`);
}

function appendedOf(result: AppendResult): StoredEvent[] {
  assert.equal(result.kind, "appended", `expected an append, got ${JSON.stringify(result)}`);
  return result.kind === "appended" ? result.events : [];
}

/**
 * Commands of every shape, on three aggregates: several events each, metadata, snapshots (with events and alone),
 * commands without an aggregate, and failures between them. Returns the events as the appends acknowledged them.
 */
async function appendVariety(store: EmbeddedEventStore): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  const sequences = new Map<string, number>();
  for (let n = 0; n < 30; n++) {
    const aggregateId = `agg-${n % 3}`;
    const sequence = sequences.get(aggregateId) ?? 0;
    const command = request(aggregateId, sequence, `v${n}`, 1 + (n % 4), 10 + n);
    command.events.forEach((event, i) => (event.metadata = { n: String(n), i: String(i), "tracé": "ü" }));
    const after = sequence + command.events.length;
    if (n % 7 === 3) command.snapshot = { sequence: after, type: "test.v1.State", payload: Buffer.from(`state of ${aggregateId} at ${after}`) };
    events.push(...appendedOf(await store.append(command)));
    sequences.set(aggregateId, after);
    if (n % 5 === 0) await store.recordFailure({ commandId: `f${n}`, code: 9, message: "no", reason: "TEST" });
    if (n % 6 === 0) appended(await store.append({ aggregateType: "Test", aggregateId: "", expectedSequence: 0, commandId: `o${n}`, events: [] }));
    if (n === 20) {
      const snapshot = { sequence: after, type: "test.v1.State", payload: Buffer.from("alone") };
      appended(await store.append({ aggregateType: "Test", aggregateId, expectedSequence: after, commandId: "snapshot-alone", events: [], snapshot }));
    }
  }
  return events;
}

async function everythingIn(store: EventStore): Promise<{ all: StoredEvent[]; aggregates: unknown[] }> {
  const all = await store.readAll(0, 10_000);
  // Batches from every position: each starts from the sparse index's entry before it and walks the journal.
  for (let after = 0; after <= all.length; after++) assert.deepEqual(await store.readAll(after, 7), all.slice(after, after + 7));
  const aggregates = await Promise.all(["agg-0", "agg-1", "agg-2", "none"].map((id) => store.readAggregate("Test", id)));
  return { all, aggregates };
}

/** A closed journal of `count` one-event commands c1..cN on aggregate "a". */
async function journalWith(count: number): Promise<{ directory: string; journal: string }> {
  const directory = freshDirectory();
  const store = await EmbeddedEventStore.open({ directory });
  for (let n = 0; n < count; n++) appended(await store.append(request("a", n, `c${n + 1}`, 1)));
  await store.close();
  return { directory, journal: path.join(directory, JOURNAL_FILE_NAME) };
}

async function assertCommands(store: EmbeddedEventStore, count: number): Promise<void> {
  const events = await store.readAll(0, 1000);
  assert.deepEqual(events.map((e) => e.commandId), Array.from({ length: count }, (_, n) => `c${n + 1}`));
  for (let n = 1; n <= count; n++) assert.equal((await store.findOutcome(`c${n}`))?.kind, "succeeded");
}

async function flipByte(file: string, offset: number): Promise<void> {
  const handle = await open(file, "r+");
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] ^= 0xff;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

/** A logger that keeps each message with its fields. */
function recordingFields(lines: string[]): StoreLogger {
  return { warn: (message, fields) => lines.push(`${message} ${JSON.stringify(fields)}`), error: (message) => lines.push(`error: ${message}`) };
}

/** Where each of the first `count` records of the journal ends, by reading their frame headers. */
async function recordEnds(directory: string, count: number): Promise<number[]> {
  const journal = await readFile(path.join(directory, JOURNAL_FILE_NAME));
  const ends: number[] = [];
  for (let offset = JOURNAL_MAGIC.length; ends.length < count; ) {
    offset += 8 + journal.readUInt32LE(offset);
    ends.push(offset);
  }
  return ends;
}

async function outcomesIn(store: EventStore): Promise<unknown[]> {
  const ids = ["v0", "v7", "v29", "f0", "f25", "o0", "o24", "snapshot-alone", "never"];
  return Promise.all(ids.map((id) => store.findOutcome(id)));
}

function recordingLogger(warnings: string[]): StoreLogger {
  return { warn: (message) => warnings.push(message), error: (message) => warnings.push(`error: ${message}`) };
}

function collect(stream: NodeJS.ReadableStream): { text: string } {
  const sink = { text: "" };
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => (sink.text += chunk));
  return sink;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await delay(10);
  }
}
