import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { MongoClient } from "mongodb";
import { MAX_MONGODB_COMMIT_TIMEOUT_MS } from "@recq-mesh/protocol";
import { resolveMongoViewOptions } from "@recq-mesh/kit/internal/views/mongo-view-store-options";
import { resolveMongoStoreOptions } from "@recq-mesh/gateway/internal/store/mongo-event-store-options";

/** A client never connected: resolving options does not touch the server. */
const client = new MongoClient("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1");

describe("the MongoDB stores' commitTimeoutMs, sent as a commit's maxTimeMS", () => {
  it("the view store takes up to 2^31−1−1000 ms and refuses one more (the server refuses a maxTimeMS past 2^31−1)", () => {
    assert.equal(resolveMongoViewOptions({ client, database: "views", commitTimeoutMs: MAX_MONGODB_COMMIT_TIMEOUT_MS }).commitTimeoutMs, MAX_MONGODB_COMMIT_TIMEOUT_MS);
    assert.throws(
      () => resolveMongoViewOptions({ client, database: "views", commitTimeoutMs: MAX_MONGODB_COMMIT_TIMEOUT_MS + 1 }),
      /MongoViewStore option commitTimeoutMs must be a positive integer of at most 2147482647, got 2147482648/,
    );
  });

  it("the gateway's event store likewise", () => {
    assert.equal(resolveMongoStoreOptions({ client, database: "events", commitTimeoutMs: MAX_MONGODB_COMMIT_TIMEOUT_MS }).commitTimeoutMs, MAX_MONGODB_COMMIT_TIMEOUT_MS);
    assert.throws(
      () => resolveMongoStoreOptions({ client, database: "events", commitTimeoutMs: MAX_MONGODB_COMMIT_TIMEOUT_MS + 1 }),
      /MongoEventStore option commitTimeoutMs must be at most 2147482647, got 2147482648/,
    );
  });
});
