import { afterAll, describe } from "@jest/globals";
import { MongoCommandInbox } from "@recq-mesh/gateway/internal/accepted/mongo-command-inbox";
import { mongoTestsEnabled, MongoTestServer, type TestDatabase } from "../support/mongo";
import { runCommandInboxContract } from "./command-inbox.suite";

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
}
