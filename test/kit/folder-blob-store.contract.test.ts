import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "@jest/globals";
import { FolderBlobStore } from "@recq-mesh/kit";
import { tempDir } from "../support/mesh-harness";
import { runBlobStoreContract } from "./blob-store.suite";

/** The folder blob store (the embedded one), on a real temp folder. */
runBlobStoreContract("folder", async () => {
  const folder = await tempDir("blobs");
  const store = await FolderBlobStore.open(folder.dir);
  return {
    store,
    visible: async () => (await readdir(folder.dir)).filter((name) => name !== ".incoming").length,
    unfinished: async () => (await store.incoming()).length,
    cleanup: () => folder.remove(),
  };
});

describe("FolderBlobStore", () => {
  it("removes what a crash left in .incoming when it opens, and keeps the blobs", async () => {
    const folder = await tempDir("blobs-crash");
    try {
      const first = await FolderBlobStore.open(folder.dir);
      const kept = await first.write((async function* () {
        yield Buffer.from("kept");
      })());
      await writeFile(path.join(folder.dir, ".incoming", "5b1f0c2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"), "half a file");
      const reopened = await FolderBlobStore.open(folder.dir);
      assert.deepEqual([...(await reopened.incoming())], []);
      assert.deepEqual([...(await readdir(folder.dir))].sort(), [".incoming", kept.reference].sort());
    } finally {
      await folder.remove();
    }
  });
});
