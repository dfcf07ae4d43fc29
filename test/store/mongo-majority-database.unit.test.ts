import assert from "node:assert/strict";
import { describe, test } from "@jest/globals";
import { MongoClient } from "mongodb";
import { majorityDatabase } from "@recq-mesh/gateway/internal/store/mongo-majority-database";

/** The database handle of the inbox and the parked events, as the driver reads it: no server needed (a handle connects on first use). */
describe("the gateway's majority database handle", () => {
  test("reads and writes with majority concern and bounds the wait for the majority, whatever the URI says", () => {
    const client = new MongoClient("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1&w=1&readConcernLevel=local");
    const db = majorityDatabase(client, "recq", 2_500);
    assert.equal(db.writeConcern?.w, "majority");
    assert.equal(db.writeConcern?.wtimeoutMS, 2_500, "without it a majority write waits for ever when there is no majority");
    assert.equal(db.readConcern?.level, "majority");
    assert.equal(db.bsonOptions.promoteBuffers, true);
  });
});
