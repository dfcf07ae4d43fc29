import { afterAll } from "@jest/globals";
import { MongoEventStore } from "@recq-mesh/gateway/internal/store/mongo-event-store";
import { mongoTestsEnabled, MongoTestServer } from "../support/mongo";
import { runSagaStatesContract } from "./saga-states.suite";

/** Saga state on the MongoDB event store: needs MONGODB_URI naming a replica set (transactions); a single node will do. */
if (mongoTestsEnabled("MongoDB saga states")) {
  const server = new MongoTestServer();
  afterAll(() => server.close());

  runSagaStatesContract("mongodb", async () => {
    const database = await server.freshDatabase("sagas");
    const client = await server.client();
    const open = () => MongoEventStore.open({ client, database: database.name });
    let current = await open();
    return {
      store: current,
      reopen: async () => {
        await current.close();
        return (current = await open());
      },
      cleanup: async () => {
        await current.close();
        await database.drop();
      },
    };
  });
}
