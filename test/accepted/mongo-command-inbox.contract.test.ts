import assert from "node:assert/strict";
import { afterAll, describe, test } from "@jest/globals";
import { MongoClient, MongoNetworkError, type CommandStartedEvent, type Document } from "mongodb";
import { MongoCommandInbox } from "@recq-mesh/gateway/internal/accepted/mongo-command-inbox";
import { INBOX_COLLECTION, inboxDocumentOf, type InboxDocument } from "@recq-mesh/gateway/internal/accepted/mongo-inbox-documents";
import { MONGODB_URI, mongoTestsEnabled, MongoTestServer, type TestDatabase } from "../support/mongo";
import type { AcceptedCommand } from "@recq-mesh/gateway/internal/accepted/accepted-command";
import { acceptedCommand, runCommandInboxContract } from "./command-inbox.suite";

// Needs a replica set (majority write concern); a single-node one will do.
if (mongoTestsEnabled("MongoDB command inbox")) {
  const server = new MongoTestServer();
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const database of databases) await database.drop();
    await server.close();
  });
  /** Short, so that a "reopen" (a new gateway instance) can claim what the closed one held once its lease has run out. */
  const leaseMs = 300;

  describe("MongoDB", () => {
    runCommandInboxContract("mongodb", async () => {
      const database = await server.freshDatabase("inbox");
      databases.push(database);
      const client = await server.client();
      let inbox = await MongoCommandInbox.open({ client, database: database.name, leaseMs });
      return {
        get inbox() {
          return inbox;
        },
        reopen: async () => {
          await inbox.close();
          await new Promise((resolve) => setTimeout(resolve, leaseMs + 50));
          inbox = await MongoCommandInbox.open({ client, database: database.name, leaseMs });
          return inbox;
        },
        close: () => inbox.close(),
      };
    });
  });

  describe("MongoDB, a gateway named by RECQ_GATEWAY_ID", () => {
    test("restarted under its name, takes back what its previous run left at once, not after the lease; a new acceptance is not handed out", async () => {
      const database = await server.freshDatabase("inbox-owner");
      databases.push(database);
      const client = await server.client();
      // A lease far longer than the test: only the name can give the commands back.
      const named = { client, database: database.name, leaseMs: 600_000, owner: "gateway-0" };
      const previous = await MongoCommandInbox.open(named);
      const left = [acceptedCommand(), acceptedCommand()];
      for (const command of left) await previous.add(command);
      await previous.close(); // as a crash leaves them: owned, unclaimed, under a lease still running

      const stranger = await MongoCommandInbox.open({ ...named, owner: "gateway-1" });
      const restarted = await MongoCommandInbox.open(named);
      try {
        const mine = acceptedCommand();
        await restarted.add(mine);
        assert.deepEqual((await stranger.claim()).map((command) => command.commandId), [], "another gateway waits for the lease");
        assert.deepEqual(
          (await restarted.claim()).map((command) => command.commandId),
          left.map((command) => command.commandId),
          "the previous run's commands, in acceptance order, and not the one this run accepted itself",
        );
        assert.deepEqual(await restarted.claim(), [], "each handed out once");
      } finally {
        await stranger.close();
        await restarted.close();
      }
    });
  });

  describe("MongoDB, what the driver or the server may leave unsaid", () => {
    test("an acceptance stored although its add failed (its answer lost) is added by the caller's retry, not left to no one", async () => {
      const database = await server.freshDatabase("inbox-unheard");
      databases.push(database);
      // A client of its own, to see the commands it sends.
      const client = new MongoClient(MONGODB_URI!, { monitorCommands: true });
      const finds: CommandStartedEvent[] = [];
      client.on("commandStarted", (event) => {
        if (event.commandName === "find" && event.command.find === INBOX_COLLECTION) finds.push(event);
      });
      await client.connect();
      const named = { client, database: database.name, leaseMs: 600_000 };
      const inbox = await MongoCommandInbox.open({ ...named, owner: "gateway-0" });
      const other = await MongoCommandInbox.open({ ...named, owner: "gateway-1" });
      try {
        // What an add whose insert was applied, then answered by a network error or a write concern timeout, left.
        const lost = acceptedCommand();
        await database.db.collection<InboxDocument>(INBOX_COLLECTION).insertOne(inboxDocumentOf(lost, 1, "gateway-0", new Date(Date.now() + 600_000)));
        assert.equal(await other.add(lost), "present", "another gateway's repeat: the owner runs it");
        assert.equal(await inbox.add(lost), "added", "the owner's retry runs it: nothing else would while it renews the lease");
        assert.equal(await inbox.add(lost), "present", "recorded now: a further repeat is one");
        const claimedBefore = acceptedCommand();
        await database.db.collection<InboxDocument>(INBOX_COLLECTION).insertOne({ ...inboxDocumentOf(claimedBefore, 2, "gateway-0", new Date(0)), claim: "an-earlier-claim" });
        assert.equal(await inbox.add(claimedBefore), "present", "claimed: a claim hands it out");
        // A write that timed out waiting for a majority is on the primary only: the check reads it there.
        assert.ok(finds.length > 0);
        // The driver puts its ReadConcern object itself into the command (a class instance, which assert/strict's
        // deepEqual tells from a plain object by its prototype): compare the level it sends.
        for (const find of finds) assert.equal((find.command.readConcern as { level?: string } | undefined)?.level, "local");
      } finally {
        await inbox.close();
        await other.close();
        await client.close();
      }
    });

    test("an acceptance stored although its add failed, retried on another gateway, is run by its owner's next claim", async () => {
      const database = await server.freshDatabase("inbox-unheard-elsewhere");
      databases.push(database);
      const client = await server.client();
      const named = { client, database: database.name, leaseMs: 600_000 };
      const lostHere = new Set<string>();
      // The insert is stored, then its answer is lost: what a second network error leaves.
      const afterInsert = async (commandId: string) => {
        if (lostHere.has(commandId)) throw new MongoNetworkError("connection closed before the insert's answer");
      };
      const other = await MongoCommandInbox.open({ ...named, owner: "gateway-1" });
      const owner = await MongoCommandInbox.open({ ...named, owner: "gateway-0", afterInsert });
      try {
        const retriedElsewhere = acceptedCommand();
        const retriedHere = acceptedCommand();
        lostHere.add(retriedElsewhere.commandId).add(retriedHere.commandId);
        await assert.rejects(owner.add(retriedElsewhere), MongoNetworkError);
        await assert.rejects(owner.add(retriedHere), MongoNetworkError);
        lostHere.clear();
        assert.equal(await other.add(retriedElsewhere), "present", "the caller's retry on another gateway: stored, its owner's");
        assert.deepEqual(await other.claim(), [], "under its owner's lease, renewed");
        assert.equal(await owner.add(retriedHere), "added", "the caller's retry on the owner runs it there");
        assert.deepEqual(
          (await owner.claim()).map((command) => command.commandId),
          [retriedElsewhere.commandId],
          "the owner's next claim hands out the one retried elsewhere, and not the one its retry runs",
        );
        assert.deepEqual(await owner.claim(), [], "once");
        assert.equal(await owner.add(retriedElsewhere), "present", "a later retry, even here, is a repeat");
      } finally {
        await owner.close();
        await other.close();
      }
    });

    test("a gateway whose clock is behind by more than a lease answers an acceptance under a lease on the server's clock", async () => {
      const database = await server.freshDatabase("inbox-behind");
      databases.push(database);
      const client = await server.client();
      const leaseMs = 2_000;
      const other = await MongoCommandInbox.open({ client, database: database.name, leaseMs, owner: "gateway-1" });
      // A minute behind: a lease from its own clock has run out for 58 s on the server's.
      const clock = () => Date.now() - 60_000;
      let takenBetween: AcceptedCommand[] = [];
      const between = acceptedCommand();
      const afterInsert = async (commandId: string) => {
        if (commandId === between.commandId) takenBetween = await other.claim();
      };
      const behind = await MongoCommandInbox.open({ client, database: database.name, leaseMs, owner: "gateway-0", clock, afterInsert });
      try {
        const accepted = acceptedCommand();
        assert.equal(await behind.add(accepted), "added");
        assert.deepEqual(await other.claim(), [], "another gateway claiming at once finds its lease running");
        // Another gateway's claim between the insert and the lease's move takes it: it runs there, and only there.
        assert.equal(await behind.add(between), "present");
        assert.deepEqual(takenBetween.map((command) => command.commandId), [between.commandId]);
        assert.deepEqual(await behind.claim(), []);
      } finally {
        await behind.close();
        await other.close();
      }
    });

    test("a claim reads its commands by the index owner_order_claim, with no sort in memory; the index is made once", async () => {
      const database = await server.freshDatabase("inbox-index");
      databases.push(database);
      // The index of the previous version, left by it: dropped at open.
      await database.db.collection(INBOX_COLLECTION).createIndex({ owner: 1, claim: 1, order: 1 }, { name: "owner_claim_order" });
      // A client of its own, to see the commands it sends.
      const client = new MongoClient(MONGODB_URI!, { monitorCommands: true });
      const finds: Document[] = [];
      client.on("commandStarted", (event) => {
        if (event.commandName === "find" && event.command.find === INBOX_COLLECTION) finds.push(event.command);
      });
      try {
        await client.connect();
        const leaseMs = 300;
        const stopped = await MongoCommandInbox.open({ client, database: database.name, leaseMs, owner: "gateway-0" });
        for (let count = 0; count < 3; count += 1) await stopped.add(acceptedCommand());
        await stopped.close();
        await new Promise((resolve) => setTimeout(resolve, leaseMs + 50));
        const taker = await MongoCommandInbox.open({ client, database: database.name, leaseMs, owner: "gateway-1" });
        assert.equal((await taker.claim()).length, 3);
        await taker.close();
        const indexes = (await database.db.collection(INBOX_COLLECTION).listIndexes().toArray()).map((index) => index.name as string);
        assert.deepEqual(indexes.sort(), ["_id_", "leaseUntil", "owner_order_claim"]);

        const [ids, page] = finds.slice(-2);
        assert.equal(page.sort, undefined, "the page is put in order by the gateway, not sorted by the server");
        const explained = await database.db.command({
          explain: { find: INBOX_COLLECTION, filter: ids.filter, sort: ids.sort, projection: ids.projection, hint: ids.hint },
          verbosity: "queryPlanner",
        });
        const plan = JSON.stringify(explained.queryPlanner.winningPlan);
        assert.match(plan, /"indexName":"owner_order_claim"/);
        assert.doesNotMatch(plan, /"stage":"SORT"/, plan);
      } finally {
        await client.close();
      }
    });

    test("a takeover is read a page at a time, in acceptance order across the pages", async () => {
      const database = await server.freshDatabase("inbox-pages");
      databases.push(database);
      const client = await server.client();
      const leaseMs = 300;
      const stopped = await MongoCommandInbox.open({ client, database: database.name, leaseMs, owner: "gateway-0" });
      const left = Array.from({ length: 7 }, () => acceptedCommand());
      for (const command of left) await stopped.add(command);
      await stopped.close();
      await new Promise((resolve) => setTimeout(resolve, leaseMs + 50));
      const taker = await MongoCommandInbox.open({ client, database: database.name, leaseMs, owner: "gateway-1", claimPageSize: 3 });
      try {
        assert.deepEqual(
          (await taker.claim()).map((command) => command.commandId),
          left.map((command) => command.commandId),
        );
        assert.deepEqual(await taker.claim(), []);
      } finally {
        await taker.close();
      }
    });

    test("leases run on the server's clock: a gateway whose clock is ahead takes no live gateway's commands", async () => {
      const database = await server.freshDatabase("inbox-skew");
      databases.push(database);
      const client = await server.client();
      const leaseMs = 2_000;
      const live = await MongoCommandInbox.open({ client, database: database.name, leaseMs, owner: "gateway-0" });
      // A minute ahead: on its own clock every lease the live gateway holds ran out long ago.
      const ahead = await MongoCommandInbox.open({ client, database: database.name, leaseMs, owner: "gateway-1", clock: () => Date.now() + 60_000 });
      try {
        const accepted = [acceptedCommand(), acceptedCommand()];
        for (const command of accepted) await live.add(command);
        // Renewed since: the lease is the server's now + leaseMs, whatever the live gateway's clock says.
        await new Promise((resolve) => setTimeout(resolve, leaseMs / 3 + 200));
        assert.deepEqual(await ahead.claim(), [], "the live gateway renews its lease: nothing to take");
        const stranded = acceptedCommand();
        await ahead.add(stranded);
        // Its acceptance's lease is on the server's clock from the start, and so are its renewals: let a few run.
        await new Promise((resolve) => setTimeout(resolve, leaseMs));
        await ahead.close(); // stops renewing: its command's lease runs out on the server's clock
        await new Promise((resolve) => setTimeout(resolve, leaseMs + 500));
        assert.deepEqual((await live.claim()).map((command) => command.commandId), [stranded.commandId]);
      } finally {
        await live.close();
      }
    }, 20_000);

    test("writes ask a majority with a bounded wait (wtimeout), whatever the URI says", async () => {
      const database = await server.freshDatabase("inbox-wtimeout");
      databases.push(database);
      // A client of its own, to see the commands it sends.
      const client = new MongoClient(MONGODB_URI!, { monitorCommands: true, w: 1 });
      const inserts: CommandStartedEvent[] = [];
      client.on("commandStarted", (event) => {
        if (event.commandName === "insert") inserts.push(event);
      });
      try {
        await client.connect();
        const inbox = await MongoCommandInbox.open({ client, database: database.name, majorityWaitMs: 4_321 });
        await inbox.add(acceptedCommand());
        await inbox.close();
        assert.deepEqual(inserts.map((event) => event.command.writeConcern), [{ w: "majority", wtimeout: 4_321 }]);
      } finally {
        await client.close();
      }
    });
  });
}
