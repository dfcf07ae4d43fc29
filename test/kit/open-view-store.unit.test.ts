import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { EmbeddedViewStore, openViewStore } from "@recq-mesh/kit";
import { mongodbDriverLoadedBy } from "../support/mongodb-driver-loaded";

const OPTIONS = { defaultDatabase: "recq_test_views", appName: "recq-tests" };

describe("the kit's choice of view store", () => {
  it("keeps views in memory, one projection per process, without MONGODB_URI", async () => {
    const views = await openViewStore({}, OPTIONS);
    assert.ok(views.store instanceof EmbeddedViewStore);
    assert.equal(views.scope, "instance");
    assert.deepEqual(views.location, { views: "embedded" });
    await views.store.close();
  });

  it("never loads the MongoDB driver without MONGODB_URI, and loads it with", async () => {
    const script = `const { openViewStore } = require("@recq-mesh/kit"); const views = await openViewStore(process.env, ${JSON.stringify(OPTIONS)}); await views.store.close();`;
    assert.equal(await mongodbDriverLoadedBy(script), false);
    // A server that is not there, given up on at once: the connection fails, after the driver was loaded.
    assert.equal(await mongodbDriverLoadedBy(script, { MONGODB_URI: "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200" }), true);
  });

  it("with MONGODB_URI set, refuses a bad RECQ_MONGODB_DATABASE before connecting", async () => {
    await assert.rejects(openViewStore({ MONGODB_URI: "mongodb://127.0.0.1:9", RECQ_MONGODB_DATABASE: "a b" }, OPTIONS), /RECQ_MONGODB_DATABASE/);
  });

  it("with MONGODB_URI set, refuses a RECQ_MONGODB_COMMIT_TIMEOUT_MS that is not a positive whole number before connecting", async () => {
    // One past the largest the server takes as a commit's maxTimeMS with its wtimeout 1 s beyond (2^31−1).
    for (const value of ["0", "-5", "1.5", "10s", "abc", String(2 ** 31 - 1000)]) {
      await assert.rejects(openViewStore({ MONGODB_URI: "mongodb://127.0.0.1:9", RECQ_MONGODB_COMMIT_TIMEOUT_MS: value }, OPTIONS), /RECQ_MONGODB_COMMIT_TIMEOUT_MS/, value);
    }
  });
});
