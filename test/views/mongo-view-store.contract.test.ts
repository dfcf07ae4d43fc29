import assert from "node:assert/strict";
import { afterAll, describe, test } from "@jest/globals";
import { MongoClient, type CommandStartedEvent } from "mongodb";
import { MongoViewStore, type MongoViewStoreOptions } from "@recq-mesh/kit/mongodb";
import type { ViewChange } from "@recq-mesh/kit";
import { MONGODB_URI, mongoTestsEnabled, MongoTestServer, type TestDatabase } from "../support/mongo";
import { runViewStoreContract } from "./view-store.suite";

/**
 * The MongoDB view store: the shared contract, then what is particular to it. Runs when MONGODB_URI names a
 * replica set (watch needs change streams); each test in a fresh database, dropped after.
 */
if (mongoTestsEnabled("MongoDB view store")) {
  const server = new MongoTestServer();
  afterAll(() => server.close());
  /** The contract's throwing listener is expected: keep its errors out of the process warnings. */
  const listenerErrors: unknown[] = [];
  const quiet = { onListenerError: (error: unknown) => void listenerErrors.push(error) };

  runViewStoreContract("mongodb", async () => {
    const database = await server.freshDatabase("views");
    const store = await MongoViewStore.open({ client: await server.client(), database: database.name, ...quiet });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await database.drop();
      },
    };
  });

  const withDatabase = async (prefix: string, body: (open: (options?: Partial<MongoViewStoreOptions>) => Promise<MongoViewStore>, database: TestDatabase) => Promise<void>) => {
    const database = await server.freshDatabase(prefix);
    const client = await server.client();
    const stores: MongoViewStore[] = [];
    const open = async (options: Partial<MongoViewStoreOptions> = {}) => {
      const store = await MongoViewStore.open({ client, database: database.name, ...quiet, ...options });
      stores.push(store);
      return store;
    };
    try {
      await body(open, database);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await database.drop();
    }
  };

  describe("MongoDB view store: particulars", () => {
    test("ensureIndex is createIndex: idempotent, INDEX_CONFLICT for other options, DUPLICATE_KEY over duplicates", () =>
      withDatabase("indexes", async (open, database) => {
        const store = await open();
        await store.ensureIndex("users", { email: 1 }, { unique: true });
        await store.ensureIndex("users", { email: 1 }, { unique: true });
        await assert.rejects(store.ensureIndex("users", { email: 1 }), { name: "ViewStoreError", code: "INDEX_CONFLICT" });
        await store.commit("p", 1, [
          { kind: "put", collection: "people", document: { _id: "a", email: "ann@example.com" } },
          { kind: "put", collection: "people", document: { _id: "b", email: "ann@example.com" } },
        ]);
        await assert.rejects(store.ensureIndex("people", { email: 1 }, { unique: true }), { name: "ViewStoreError", code: "DUPLICATE_KEY" });
        const indexes = await database.db.collection("users").indexes();
        assert.ok(indexes.some((index) => index.unique === true && JSON.stringify(index.key) === JSON.stringify({ email: 1 })));
      }), 20_000,
    );

    test("two instances committing the same position at once apply it once", () =>
      withDatabase("shared", async (open) => {
        const [first, second] = [await open(), await open()];
        await first.commit("lists", 1, [{ kind: "put", collection: "lists", document: { _id: "l1", count: 0 } }]);
        const step = { kind: "update", collection: "lists", id: "l1", update: { $inc: { count: 1 } } } as const;
        await Promise.all([first.commit("lists", 2, [step]), second.commit("lists", 2, [step])]);
        assert.deepEqual(await second.findById("lists", "l1"), { _id: "l1", count: 1 });
        assert.equal(await first.checkpoint("lists"), 2);
      }), 20_000,
    );

    test("watch hears commits made through another instance, with their positions", () =>
      withDatabase("watch", async (open) => {
        const [watching, writing] = [await open(), await open()];
        const changes: ViewChange[] = [];
        watching.watch("lists", (change) => changes.push(change));
        await watching.checkpoint("lists"); // waits for the feed to fix its starting point
        await writing.commit("lists", 4, [
          { kind: "put", collection: "lists", document: { _id: "l1" } },
          { kind: "put", collection: "lists", document: { _id: "l1", again: true } },
          { kind: "put", collection: "other", document: { _id: "o1" } },
        ]);
        await waitFor(() => changes.length > 0);
        await delay(200);
        assert.deepEqual(changes, [{ collection: "lists", id: "l1", position: 4 }]);
      }), 20_000,
    );

    test("refuses the checkpoints' collection as a view, script operators, and everything after close", () =>
      withDatabase("refusals", async (open) => {
        const store = await open();
        await assert.rejects(store.find("recq_checkpoints", {}), { code: "INVALID_ARGUMENT" });
        await assert.rejects(store.commit("p", 1, [{ kind: "put", collection: "recq_checkpoints", document: { _id: "p" } }]), { code: "INVALID_ARGUMENT" });
        await assert.rejects(store.find("lists", { $where: "this.a > 1" }), { code: "INVALID_ARGUMENT", message: /script operators/ });
        await store.close();
        await store.close();
        const closed = { name: "ViewStoreError", code: "CLOSED" };
        await assert.rejects(store.findById("lists", "x"), closed);
        await assert.rejects(store.commit("p", 1, []), closed);
        assert.throws(() => store.watch("lists", () => undefined), closed);
      }), 20_000,
    );

    test("a commit's wait for a majority is bounded: commitTransaction carries maxTimeMS, and a wtimeout past it", () =>
      withDatabase("commit-bound", async (_open, database) => {
        // A client of its own, to see the commands it sends.
        const client = new MongoClient(MONGODB_URI!, { monitorCommands: true });
        const commits: CommandStartedEvent[] = [];
        client.on("commandStarted", (event) => {
          if (event.commandName === "commitTransaction") commits.push(event);
        });
        try {
          await client.connect();
          const store = await MongoViewStore.open({ client, database: database.name, commitTimeoutMs: 3_000, ...quiet });
          await store.commit("p", 1, [{ kind: "put", collection: "lists", document: { _id: "l1" } }]);
          await store.close();
          assert.deepEqual(
            commits.map((event) => [event.command.maxTimeMS, event.command.writeConcern]),
            [[3_000, { w: "majority", wtimeout: 4_000 }]],
          );
        } finally {
          await client.close();
        }
      }), 20_000,
    );

    test("find pages with the embedded store's limits", () =>
      withDatabase("limits", async (open) => {
        const store = await open({ maxFindResults: 5 });
        await store.commit(
          "p",
          1,
          Array.from({ length: 8 }, (_, index) => ({ kind: "put" as const, collection: "lists", document: { _id: `d${index}`, index } })),
        );
        await assert.rejects(store.find("lists", {}), { code: "LIMIT_EXCEEDED", message: /page with skip/ });
        await assert.rejects(store.find("lists", {}, { limit: 6 }), { code: "LIMIT_EXCEEDED" });
        assert.deepEqual((await store.find("lists", {}, { skip: 5, limit: 5 })).map((d) => d._id), ["d5", "d6", "d7"]);
        assert.equal(await store.count("lists", { index: { $gte: 3 } }), 5);
      }), 20_000,
    );
  });
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
