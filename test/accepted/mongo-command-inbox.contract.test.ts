import assert from "node:assert/strict";
import { afterAll, describe, test } from "@jest/globals";
import { MongoCommandInbox } from "@recq-mesh/gateway/internal/accepted/mongo-command-inbox";
import { mongoTestsEnabled, MongoTestServer, type TestDatabase } from "../support/mongo";
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
}
