import { afterAll, describe } from "@jest/globals";
import { MongoParkedEventStore } from "@recq-mesh/gateway/internal/consumers/dead-events/mongo-parked-event-store";
import { mongoTestsEnabled, MongoTestServer, type TestDatabase } from "../support/mongo";
import { runParkedEventStoreContract } from "./parked-event-store.suite";

// Needs a replica set (majority write and read concern); a single-node one will do.
if (mongoTestsEnabled("MongoDB parked-event store")) {
  const server = new MongoTestServer();
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const database of databases) await database.drop();
    await server.close();
  });

  describe("MongoDB", () => {
    runParkedEventStoreContract("mongodb", async () => {
      const database = await server.freshDatabase("parked");
      databases.push(database);
      const client = await server.client();
      let store = await MongoParkedEventStore.open({ client, database: database.name });
      return {
        get store() {
          return store;
        },
        reopen: async () => {
          await store.close();
          store = await MongoParkedEventStore.open({ client, database: database.name });
          return store;
        },
        close: () => store.close(),
      };
    });
  });
}
