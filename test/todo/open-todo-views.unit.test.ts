import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { EmbeddedViewStore } from "../../services/kit/src/views/embedded-view-store";
import { openTodoViews } from "../../services/todo/src/open-todo-views";

describe("the TodoList service's choice of view store", () => {
  it("keeps views in memory, one projection per process, without MONGODB_URI, and never loads the MongoDB driver", async () => {
    const views = await openTodoViews({});
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
    await assert.rejects(openTodoViews({ MONGODB_URI: "mongodb://127.0.0.1:9", RECQ_MONGODB_DATABASE: "a b" }), /RECQ_MONGODB_DATABASE/);
  });
});
