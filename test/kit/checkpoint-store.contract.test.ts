import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, it } from "@jest/globals";
import { EmbeddedViewStore, FileCheckpointStore, ViewStoreCheckpoints, type CheckpointStore } from "@recq-mesh/kit";
import { MongoViewStore } from "@recq-mesh/kit/mongodb";
import { tempDir } from "../support/mesh-harness";
import { mongoTestsEnabled, MongoTestServer } from "../support/mongo";

/** What every checkpoint store must do, on a real folder and a real (embedded) view store. */
function runCheckpointContract(name: string, open: () => Promise<{ store: CheckpointStore; reopen: () => Promise<CheckpointStore>; cleanup: () => Promise<void> }>): void {
  describe(`checkpoint store: ${name}`, () => {
    it("reads 0 for a consumer never written, then what was written; never moves back", async () => {
      const { store, cleanup } = await open();
      try {
        assert.equal(await store.read("notifier"), 0);
        await store.write("notifier", 7);
        assert.equal(await store.read("notifier"), 7);
        await store.write("notifier", 5);
        assert.equal(await store.read("notifier"), 7);
        assert.equal(await store.read("other"), 0, "each consumer has its own");
      } finally {
        await cleanup();
      }
    });

    it("keeps a checkpoint across a reopen", async () => {
      const { store, reopen, cleanup } = await open();
      try {
        await store.write("saga/with:odd name", 42);
        assert.equal(await (await reopen()).read("saga/with:odd name"), 42);
      } finally {
        await cleanup();
      }
    });
  });
}

runCheckpointContract("folder", async () => {
  const folder = await tempDir("checkpoints");
  return {
    store: await FileCheckpointStore.open(folder.dir),
    reopen: () => FileCheckpointStore.open(folder.dir),
    cleanup: () => folder.remove(),
  };
});

runCheckpointContract("view store", async () => {
  const views = new EmbeddedViewStore();
  return { store: new ViewStoreCheckpoints(views), reopen: async () => new ViewStoreCheckpoints(views), cleanup: () => views.close() };
});

describe("FileCheckpointStore", () => {
  it("leaves no temporary file behind and refuses a file that holds no position", async () => {
    const folder = await tempDir("checkpoints-files");
    try {
      const store = await FileCheckpointStore.open(folder.dir);
      await store.write("observer", 3);
      assert.equal((await readdir(folder.dir)).join(","), "observer.checkpoint");
      await writeFile(path.join(folder.dir, "broken.checkpoint"), "not a number");
      await assert.rejects(store.read("broken"), /not a position/);
    } finally {
      await folder.remove();
    }
  });
});

// The checkpoints of observers and sagas on MongoDB (services/todo's `ViewStoreCheckpoints` over the shared view
// store): needs MONGODB_URI naming a replica set (a commit is a transaction); a single node will do.
if (mongoTestsEnabled("checkpoint store on the MongoDB view store")) {
  const server = new MongoTestServer();
  afterAll(() => server.close());

  runCheckpointContract("MongoDB view store", async () => {
    const database = await server.freshDatabase("checkpoints");
    const client = await server.client();
    const opened: MongoViewStore[] = [];
    const open = async () => {
      const views = await MongoViewStore.open({ client, database: database.name });
      opened.push(views);
      return new ViewStoreCheckpoints(views);
    };
    return {
      store: await open(),
      reopen: open,
      cleanup: async () => {
        for (const views of opened) await views.close();
        await database.drop();
      },
    };
  });
}
