import assert from "node:assert/strict";
import { afterAll, describe, it } from "@jest/globals";
import { MongoClient, ReadConcern, ReadPreference } from "mongodb";
import { checkpointReads, commitTransactionOptions, viewDatabase } from "@recq-mesh/kit/internal/views/mongo-view-database";

// A client is not connected until it is used: these read only the handles' settings, so no server is needed.
describe("the MongoDB view store's handles", () => {
  const client = new MongoClient("mongodb://127.0.0.1:1/?readPreference=secondaryPreferred&readConcernLevel=local&w=1");
  afterAll(() => client.close());

  it("read from the primary whatever the URI says, and write with majority, within a bounded wait for it", () => {
    const db = viewDatabase(client, "views", 7_000);
    assert.equal(db.readPreference?.mode, "primary");
    assert.equal(db.collection("todo_lists").readPreference?.mode, "primary");
    assert.equal(db.writeConcern?.w, "majority");
    assert.equal(db.writeConcern?.wtimeoutMS, 7_000, "a drop outside a commit would otherwise wait for ever without a majority");
    assert.equal(client.db("views").readPreference?.mode, "secondaryPreferred", "the URI's own setting, which the store overrides");
  });

  it("read checkpoints with majority read concern, not the URI's local", () => {
    const db = viewDatabase(client, "views", 7_000);
    assert.equal(checkpointReads(db).readConcern?.level, "majority");
    assert.equal(db.collection("recq_checkpoints").readConcern?.level, "local");
  });

  it("commit in a snapshot with majority write concern on the primary, the commit's wait bounded by its maxTimeMS", () => {
    const options = commitTransactionOptions(5_000);
    assert.deepEqual(options.readConcern, new ReadConcern("snapshot"));
    assert.equal(options.readPreference, ReadPreference.primary);
    assert.equal(options.writeConcern?.w, "majority");
    assert.equal(options.maxCommitTimeMS, 5_000, "without it a commit waits for ever where there is no majority");
    assert.ok((options.writeConcern?.wtimeoutMS ?? 0) > 5_000, "the driver's wtimeout on a retried commit is set past the bound");
  });
});
