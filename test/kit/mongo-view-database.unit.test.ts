import assert from "node:assert/strict";
import { afterAll, describe, it } from "@jest/globals";
import { MongoClient } from "mongodb";
import { checkpointReads, viewDatabase } from "@recq-mesh/kit/internal/views/mongo-view-database";

// A client is not connected until it is used: these read only the handles' settings, so no server is needed.
describe("the MongoDB view store's handles", () => {
  const client = new MongoClient("mongodb://127.0.0.1:1/?readPreference=secondaryPreferred&readConcernLevel=local&w=1");
  afterAll(() => client.close());

  it("read from the primary whatever the URI says, and write with majority", () => {
    const db = viewDatabase(client, "views");
    assert.equal(db.readPreference?.mode, "primary");
    assert.equal(db.collection("todo_lists").readPreference?.mode, "primary");
    assert.equal(db.writeConcern?.w, "majority");
    assert.equal(client.db("views").readPreference?.mode, "secondaryPreferred", "the URI's own setting, which the store overrides");
  });

  it("read checkpoints with majority read concern, not the URI's local", () => {
    const db = viewDatabase(client, "views");
    assert.equal(checkpointReads(db).readConcern?.level, "majority");
    assert.equal(db.collection("recq_checkpoints").readConcern?.level, "local");
  });
});
