import assert from "node:assert/strict";
import { describe, test } from "@jest/globals";
import type { AppendRequest, AppendResult, EventStore, NewEventRecord, StoredEvent } from "@recq-mesh/gateway/internal/store/event-store";
import { appendStreamOf } from "@recq-mesh/gateway/internal/commands/service-stream";

/**
 * The behaviour every event store adapter must show. Run it from the adapter's own test file:
 *
 *   runEventStoreContract("embedded", async (options) => ({ store, reopen, cleanup }));
 *
 * `open` gets a fresh, empty store for each test, configured with the options given (the expiry test asks for a
 * short outcome retention). `reopen`, when the adapter has one, is called after the contract closed `store` and
 * returns a store over the same data, as after a process restart. `cleanup` removes the test's data and closes
 * whatever the factory opened that is still open.
 */
export interface ContractStoreOptions {
  outcomeRetentionMs: number;
}

export interface ContractStore {
  store: EventStore;
  /** Closes the store and opens it again on the same state: every adapter must survive a restart. */
  reopen: () => Promise<EventStore>;
  cleanup(): Promise<void>;
}

export type OpenContractStore = (options: ContractStoreOptions) => Promise<ContractStore>;

const LONG_RETENTION_MS = 10 * 60 * 1000;

type ContractTest = (opened: ContractStore) => Promise<void>;

export function runEventStoreContract(adapterName: string, open: OpenContractStore): void {
  describe(`event store contract: ${adapterName}`, () => {
    const it = (name: string, body: ContractTest, retentionMs = LONG_RETENTION_MS) =>
      test(name, () => withStore(open, { outcomeRetentionMs: retentionMs }, (opened) => body(opened)), 10_000);

    it("appends events and reads them back by aggregate", appendsAndReadsBack);
    it("numbers positions densely across aggregates and sequences per aggregate", numbersDensely);
    it("answers a stale or future expected sequence with a conflict and stores nothing", conflictsOnWrongSequence);
    it("lets exactly one of many concurrent appends with the same expected sequence win", oneWinnerPerSequence);
    it("keeps one gapless stream when several writers race on one aggregate", racingWritersOnOneAggregate);
    it("keeps global order dense and each append contiguous under concurrent writers", concurrentWritersAcrossAggregates);
    it("returns the latest snapshot and only the events after it", snapshots);
    it("records success and failure outcomes by command id", outcomes);
    it("records the outcome of a command without an aggregate at the store's head", outcomeOnlyCommands);
    it("records an append without events at the aggregate's current sequence", appendWithoutEvents);
    it("stores a service command's events as a stream of their own, named by its command id", serviceEventStreams);
    it("forgets an outcome once its retention has passed", outcomeExpiry, 300);
    it("calls onAppended listeners with the new head once the events are readable", onAppendedListeners);
    it("keeps events, snapshots and outcomes across a restart", survivesRestart);
    it("rejects calls after close", rejectsAfterClose);
  });
}

async function withStore(open: OpenContractStore, options: ContractStoreOptions, body: (opened: ContractStore) => Promise<void>): Promise<void> {
  const opened = await open(options);
  try {
    await body(opened);
  } finally {
    await opened.cleanup();
  }
}

// ---- the tests ----

async function appendsAndReadsBack({ store }: ContractStore): Promise<void> {
  const before = Date.now();
  const created = event("todo.v1.TodoListCreated", "groceries", { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
  const added = event("todo.v1.ItemAdded", "milk");
  const result = appended(await store.append(request("list-1", 0, "cmd-1", [created, added])));
  const after = Date.now();

  assert.deepEqual(result.ack, { commandId: "cmd-1", position: 2, sequence: 2 });
  const history = await store.readAggregate("TodoList", "list-1");
  assert.equal(history.sequence, 2);
  assert.equal(history.snapshot, undefined);
  assert.deepEqual(history.events, result.events);
  const [first, second] = history.events;
  assert.deepEqual(
    { ...first, timeMs: 0 },
    { position: 1, aggregateType: "TodoList", aggregateId: "list-1", sequence: 1, type: created.type, payload: created.payload, timeMs: 0, commandId: "cmd-1", metadata: created.metadata },
  );
  assert.ok(first.timeMs >= before && first.timeMs <= after, `timeMs ${first.timeMs} is the append's time`);
  assert.equal(second.type, "todo.v1.ItemAdded");
  assert.equal(second.payload.toString(), "milk");
  assert.deepEqual([second.position, second.sequence], [2, 2]);

  const unknown = await store.readAggregate("TodoList", "nothing-here");
  assert.deepEqual([unknown.sequence, unknown.events.length, unknown.snapshot], [0, 0, undefined]);
}

async function numbersDensely({ store }: ContractStore): Promise<void> {
  appended(await store.append(request("a", 0, "c1", [event("E", "a1"), event("E", "a2")])));
  appended(await store.append(request("b", 0, "c2", [event("E", "b1")])));
  appended(await store.append(request("a", 2, "c3", [event("E", "a3")])));
  // Same id, other type: another aggregate.
  appended(await store.append({ ...request("a", 0, "c4", [event("E", "other-a1")]), aggregateType: "Other" }));

  const all = await store.readAll(0, 100);
  assert.deepEqual(all.map((e) => e.position), [1, 2, 3, 4, 5]);
  assert.deepEqual(all.map((e) => `${e.aggregateType}/${e.aggregateId}#${e.sequence}`), ["TodoList/a#1", "TodoList/a#2", "TodoList/b#1", "TodoList/a#3", "Other/a#1"]);
  assert.equal(await store.headPosition(), 5);
  assert.deepEqual((await store.readAll(1, 2)).map((e) => e.position), [2, 3]);
  assert.deepEqual(await store.readAll(5, 10), []);
  assert.deepEqual(await store.readAll(0, 0), []);
  assert.equal((await store.readAggregate("TodoList", "a")).sequence, 3);
  assert.equal((await store.readAggregate("Other", "a")).sequence, 1);
}

async function conflictsOnWrongSequence({ store }: ContractStore): Promise<void> {
  appended(await store.append(request("a", 0, "c1", [event("E", "1"), event("E", "2")])));
  assert.deepEqual(await store.append(request("a", 1, "stale", [event("E", "x")])), { kind: "conflict", actualSequence: 2 });
  assert.deepEqual(await store.append(request("a", 5, "future", [event("E", "x")])), { kind: "conflict", actualSequence: 2 });
  assert.deepEqual(await store.append(request("new", 1, "not-yet", [event("E", "x")])), { kind: "conflict", actualSequence: 0 });
  assert.equal(await store.headPosition(), 2);
  assert.equal(await store.findOutcome("stale"), undefined);
  assert.equal(await store.findOutcome("future"), undefined);
}

async function oneWinnerPerSequence({ store }: ContractStore): Promise<void> {
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, writer) => store.append(request("contested", 0, `writer-${writer}`, [event("E", `from ${writer}`)]))),
  );
  const winners = results.filter((r) => r.kind === "appended");
  assert.equal(winners.length, 1);
  for (const loser of results.filter((r) => r.kind === "conflict")) assert.deepEqual(loser, { kind: "conflict", actualSequence: 1 });
  const history = await store.readAggregate("TodoList", "contested");
  assert.equal(history.events.length, 1);
  assert.equal(history.events[0].commandId, appended(winners[0]).ack.commandId);
}

async function racingWritersOnOneAggregate({ store }: ContractStore): Promise<void> {
  const writers = 6;
  const appendsPerWriter = 8;
  const acked: string[] = [];
  const writeAll = async (writer: number) => {
    let expected = (await store.readAggregate("TodoList", "raced")).sequence;
    for (let done = 0, attempt = 0; done < appendsPerWriter; attempt++) {
      const commandId = `w${writer}-${attempt}`;
      const result = await store.append(request("raced", expected, commandId, [event("E", commandId)]));
      if (result.kind === "conflict") {
        expected = attempt % 2 === 0 ? result.actualSequence : (await store.readAggregate("TodoList", "raced")).sequence;
        continue;
      }
      acked.push(commandId);
      expected = result.ack.sequence;
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, writer) => writeAll(writer)));

  const history = await store.readAggregate("TodoList", "raced");
  assert.equal(history.sequence, writers * appendsPerWriter);
  assert.deepEqual(history.events.map((e) => e.sequence), range(1, writers * appendsPerWriter));
  assert.deepEqual(history.events.map((e) => e.commandId).sort(), [...acked].sort());
  assert.deepEqual(history.events.map((e) => e.payload.toString()), history.events.map((e) => e.commandId));
}

async function concurrentWritersAcrossAggregates({ store }: ContractStore): Promise<void> {
  const aggregates = 8;
  const appendsEach = 12;
  const eventsPerAppend = 3;
  const writeAggregate = async (aggregate: number) => {
    for (let sequence = 0; sequence < appendsEach * eventsPerAppend; sequence += eventsPerAppend) {
      const commandId = `agg${aggregate}-at${sequence}`;
      const events = range(1, eventsPerAppend).map((n) => event("E", `${commandId}/${n}`));
      appended(await store.append(request(`agg-${aggregate}`, sequence, commandId, events)));
    }
  };
  await Promise.all(Array.from({ length: aggregates }, (_, aggregate) => writeAggregate(aggregate)));

  const total = aggregates * appendsEach * eventsPerAppend;
  const paged: StoredEvent[] = [];
  for (let after = 0; after < total; after = paged.length) paged.push(...(await store.readAll(after, 50)));
  assert.deepEqual(paged.map((e) => e.position), range(1, total));
  assert.deepEqual(paged, await store.readAll(0, total + 10));
  assertPerAggregateOrder(paged);
  assertAppendsContiguous(paged);
}

async function snapshots({ store }: ContractStore): Promise<void> {
  appended(await store.append(request("snap", 0, "c1", [event("E", "1"), event("E", "2"), event("E", "3")])));
  const first = { sequence: 4, type: "todo.v1.TodoListState", payload: Buffer.from("state@4") };
  appended(await store.append({ ...request("snap", 3, "c2", [event("E", "4")]), snapshot: first }));
  let history = await store.readAggregate("TodoList", "snap");
  assert.deepEqual(history.snapshot, first);
  assert.deepEqual([history.sequence, history.events.length], [4, 0]);

  appended(await store.append(request("snap", 4, "c3", [event("E", "5"), event("E", "6")])));
  history = await store.readAggregate("TodoList", "snap");
  assert.deepEqual(history.snapshot, first);
  assert.deepEqual(history.events.map((e) => e.sequence), [5, 6]);

  const second = { sequence: 6, type: "todo.v1.TodoListState", payload: Buffer.from("state@6") };
  appended(await store.append({ ...request("snap", 6, "c4", []), snapshot: second }));
  history = await store.readAggregate("TodoList", "snap");
  assert.deepEqual(history.snapshot, second);
  assert.deepEqual([history.sequence, history.events.length], [6, 0]);
  assert.equal((await store.readAll(0, 100)).length, 6, "snapshots are not events");
}

async function outcomes({ store }: ContractStore): Promise<void> {
  appended(await store.append(request("o", 0, "ok-1", [event("E", "1")])));
  await store.recordFailure({ commandId: "bad-1", code: 9, message: "list is archived", reason: "LIST_ARCHIVED" });
  assert.deepEqual(await store.findOutcome("ok-1"), { kind: "succeeded", commandId: "ok-1", position: 1, sequence: 1 });
  assert.deepEqual(await store.findOutcome("bad-1"), { kind: "failed", commandId: "bad-1", code: 9, message: "list is archived", reason: "LIST_ARCHIVED" });
  assert.equal(await store.findOutcome("never-seen"), undefined);
}

async function outcomeOnlyCommands({ store }: ContractStore): Promise<void> {
  assert.deepEqual(appended(await store.append(request("", 0, "service-0", []))).ack, { commandId: "service-0", position: 0, sequence: 0 });
  appended(await store.append(request("a", 0, "c1", [event("E", "1"), event("E", "2")])));
  const result = appended(await store.append(request("", 0, "service-1", [])));
  assert.deepEqual(result.ack, { commandId: "service-1", position: 2, sequence: 0 });
  assert.deepEqual(result.events, []);
  assert.deepEqual(await store.findOutcome("service-1"), { kind: "succeeded", commandId: "service-1", position: 2, sequence: 0 });
  await assert.rejects(store.append(request("", 0, "service-2", [event("E", "x")])), /aggregate/);
  assert.equal(await store.headPosition(), 2);
  assert.equal(await store.findOutcome("service-2"), undefined);
}

async function appendWithoutEvents({ store }: ContractStore): Promise<void> {
  appended(await store.append(request("a", 0, "c1", [event("E", "1"), event("E", "2")])));
  const result = appended(await store.append(request("a", 2, "noop", [])));
  assert.deepEqual(result.ack, { commandId: "noop", position: 2, sequence: 2 });
  assert.deepEqual(await store.findOutcome("noop"), { kind: "succeeded", commandId: "noop", position: 2, sequence: 2 });
  assert.equal((await store.readAggregate("TodoList", "a")).sequence, 2);
  assert.equal(await store.headPosition(), 2);
}

async function outcomeExpiry({ store }: ContractStore): Promise<void> {
  appended(await store.append(request("a", 0, "short-lived", [event("E", "1")])));
  await store.recordFailure({ commandId: "short-failure", code: 9, message: "no", reason: "NO" });
  assert.equal((await store.findOutcome("short-lived"))?.kind, "succeeded");
  assert.equal((await store.findOutcome("short-failure"))?.kind, "failed");
  await delay(450);
  assert.equal(await store.findOutcome("short-lived"), undefined);
  assert.equal(await store.findOutcome("short-failure"), undefined);
  assert.equal((await store.readAggregate("TodoList", "a")).sequence, 1, "events do not expire");
}

async function onAppendedListeners({ store }: ContractStore): Promise<void> {
  const seen: { head: number; readable: Promise<StoredEvent[]> }[] = [];
  const unsubscribe = store.onAppended((head) => seen.push({ head, readable: store.readAll(head - 1, 1) }));
  appended(await store.append(request("a", 0, "c1", [event("E", "1"), event("E", "2")])));
  await waitFor(() => seen.length > 0);
  assert.equal(seen.at(-1)?.head, 2);
  assert.equal((await seen.at(-1)?.readable)?.[0]?.position, 2, "the head's event is readable when the listener runs");

  await Promise.all([store.append(request("b", 0, "c2", [event("E", "1")])), store.append(request("c", 0, "c3", [event("E", "1")]))]);
  await waitFor(() => seen.at(-1)?.head === 4);
  assert.ok(seen.every((s, i) => i === 0 || s.head > seen[i - 1].head), "heads only grow");

  unsubscribe();
  const count = seen.length;
  appended(await store.append(request("a", 2, "c4", [event("E", "3")])));
  await delay(20);
  assert.equal(seen.length, count, "no calls after unsubscribe");
}

async function survivesRestart(opened: ContractStore): Promise<void> {
  const { store } = opened;
  appended(await store.append(request("a", 0, "c1", [event("E", "1", { k: "v" }), event("E", "2")])));
  appended(await store.append({ ...request("a", 2, "c2", [event("E", "3")]), snapshot: { sequence: 3, type: "S", payload: Buffer.from("s3") } }));
  appended(await store.append(request("b", 0, "c3", [event("F", "b1")])));
  appended(await store.append(request("", 0, "c4", [])));
  await store.recordFailure({ commandId: "c5", code: 6, message: "exists", reason: "ALREADY" });
  const before = await snapshotOf(store, ["c1", "c2", "c3", "c4", "c5"]);
  await store.close();

  const reopened = await opened.reopen();
  assert.deepEqual(await snapshotOf(reopened, ["c1", "c2", "c3", "c4", "c5"]), before);
  const next = appended(await reopened.append(request("a", 3, "c6", [event("E", "4")])));
  assert.deepEqual(next.ack, { commandId: "c6", position: 5, sequence: 4 });
  assert.deepEqual(await reopened.append(request("b", 0, "c7", [event("F", "b1")])), { kind: "conflict", actualSequence: 1 });
  await reopened.close();
}

async function rejectsAfterClose({ store }: ContractStore): Promise<void> {
  appended(await store.append(request("a", 0, "c1", [event("E", "1")])));
  await store.close();
  await assert.rejects(store.append(request("a", 1, "c2", [event("E", "2")])), /closed/);
  await assert.rejects(store.readAggregate("TodoList", "a"), /closed/);
  await assert.rejects(store.readAll(0, 10), /closed/);
  await assert.rejects(store.headPosition(), /closed/);
  await assert.rejects(store.findOutcome("c1"), /closed/);
  await assert.rejects(store.recordFailure({ commandId: "c3", code: 9, message: "m", reason: "r" }), /closed/);
}

// ---- helpers ----

/** A service command's append as the command pipeline makes it (service-stream.ts): no routing key, events. */
function serviceAppend(commandId: string, events: NewEventRecord[]): AppendRequest {
  const stream = appendStreamOf("", 0, commandId, events.length, false);
  return { aggregateType: "todo.v1.NotificationService", ...stream, commandId, events };
}

async function serviceEventStreams({ store, reopen }: ContractStore): Promise<void> {
  appended(await store.append(request("a", 0, "c1", [event("E", "1")])));
  // Two service commands at once: each command's events are their own stream, so neither conflicts.
  const [first, second] = await Promise.all([
    store.append(serviceAppend("send-1", [event("todo.v1.NotificationSent", "x"), event("todo.v1.NotificationSent", "y")])),
    store.append(serviceAppend("send-2", [event("todo.v1.NotificationSent", "z")])),
  ]);
  const one = appended(first!);
  appended(second!);
  assert.deepEqual(
    one.events.map((e) => [e.aggregateType, e.aggregateId, e.sequence, e.commandId]),
    [
      ["todo.v1.NotificationService", "send-1", 1, "send-1"],
      ["todo.v1.NotificationService", "send-1", 2, "send-1"],
    ],
  );
  assert.equal(one.ack.sequence, 2);
  assert.deepEqual(await store.findOutcome("send-1"), { kind: "succeeded", commandId: "send-1", ...positionAndSequence(one.ack) });
  // The same command id again (it ran at the same time elsewhere): a conflict, nothing stored twice.
  const again = await store.append(serviceAppend("send-1", [event("todo.v1.NotificationSent", "x")]));
  assert.deepEqual(again, { kind: "conflict", actualSequence: 2 });
  assert.equal(await store.headPosition(), 4);
  const all = await store.readAll(0, 10);
  assert.deepEqual(all.map((e) => e.position), [1, 2, 3, 4], "service events take dense global positions like any");
  assert.deepEqual(all.filter((e) => e.aggregateId === "send-2").map((e) => [e.sequence, e.payload.toString()]), [[1, "z"]]);
  await store.close();
  const reopened = await reopen();
  assert.deepEqual((await reopened.readAggregate("todo.v1.NotificationService", "send-1")).events.map((e) => e.payload.toString()), ["x", "y"]);
  assert.deepEqual(await reopened.findOutcome("send-2"), { kind: "succeeded", commandId: "send-2", ...positionAndSequence(appended(second!).ack) });
}

function positionAndSequence(ack: { position: number; sequence: number }): { position: number; sequence: number } {
  return { position: ack.position, sequence: ack.sequence };
}

function event(type: string, text: string, metadata: Record<string, string> = {}): NewEventRecord {
  return { type, payload: Buffer.from(text), metadata };
}

function request(aggregateId: string, expectedSequence: number, commandId: string, events: NewEventRecord[]): AppendRequest {
  return { aggregateType: "TodoList", aggregateId, expectedSequence, commandId, events };
}

function appended(result: AppendResult): Extract<AppendResult, { kind: "appended" }> {
  assert.equal(result.kind, "appended", `expected an append, got ${JSON.stringify(result)}`);
  return result as Extract<AppendResult, { kind: "appended" }>;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

function assertPerAggregateOrder(events: StoredEvent[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    const key = `${e.aggregateType}/${e.aggregateId}`;
    assert.equal(e.sequence, (last.get(key) ?? 0) + 1, `${key} continues in position order at position ${e.position}`);
    last.set(key, e.sequence);
  }
}

function assertAppendsContiguous(events: StoredEvent[]): void {
  const positionsByCommand = new Map<string, number[]>();
  for (const e of events) positionsByCommand.set(e.commandId, [...(positionsByCommand.get(e.commandId) ?? []), e.position]);
  for (const [commandId, positions] of positionsByCommand) {
    assert.deepEqual(positions, range(positions[0], positions[0] + positions.length - 1), `${commandId}'s events are contiguous`);
  }
}

async function snapshotOf(store: EventStore, commandIds: string[]): Promise<unknown> {
  return {
    head: await store.headPosition(),
    all: await store.readAll(0, 1000),
    a: await store.readAggregate("TodoList", "a"),
    b: await store.readAggregate("TodoList", "b"),
    outcomes: await Promise.all(commandIds.map((id) => store.findOutcome(id))),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await delay(5);
  }
}
