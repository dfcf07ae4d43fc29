import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { EmbeddedViewStore, openViewStore } from "@recq-mesh/kit";

const OPTIONS = { defaultDatabase: "recq_test_views", appName: "recq-tests" };

describe("the kit's choice of view store", () => {
  it("keeps views in memory, one projection per process, without MONGODB_URI, and never loads the MongoDB driver", async () => {
    const views = await openViewStore({}, OPTIONS);
    assert.ok(views.store instanceof EmbeddedViewStore);
    assert.equal(views.scope, "instance");
    assert.deepEqual(views.location, { views: "embedded" });
    await views.store.close();
    assert.equal(
      Object.keys(require.cache).some((file) => file.includes(`${path.sep}node_modules${path.sep}mongodb${path.sep}`)),
      false,
    );
  });

  it("with MONGODB_URI set, refuses a bad RECQ_MONGODB_DATABASE before connecting", async () => {
    await assert.rejects(openViewStore({ MONGODB_URI: "mongodb://127.0.0.1:9", RECQ_MONGODB_DATABASE: "a b" }, OPTIONS), /RECQ_MONGODB_DATABASE/);
  });
});
