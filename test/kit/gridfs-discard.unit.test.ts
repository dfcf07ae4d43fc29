import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { MongoClient, type Document } from "mongodb";
import { GridFsBlobStore } from "@recq-mesh/kit/mongodb";
import { FakeMongoPrimary } from "../support/fake-mongo-primary";

/**
 * When the GridFS store's discard of a failed write runs, against the real driver and a stand-in primary that holds
 * each chunk insert a while: a real server cannot be made to hold one at will. No MongoDB server needed.
 */
describe("GridFsBlobStore: a failed write's discard", () => {
  const HOLD_MS = 300;
  const timeline: string[] = [];
  let primary: FakeMongoPrimary;
  let client: MongoClient;

  beforeAll(async () => {
    primary = await FakeMongoPrimary.start(async (name, command: Document) => {
      const collection = String(command[name]);
      if (name === "insert" && collection === "blobs.chunks") {
        timeline.push("chunk insert received");
        await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
        timeline.push("chunk insert answered");
        return { n: 1, ok: 1 };
      }
      if (name === "delete") {
        timeline.push(`delete ${collection}`);
        return { n: 0, ok: 1 };
      }
      return { ok: 1 };
    });
    client = new MongoClient(primary.uri);
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await primary?.close();
  });

  it("waits for the chunk insert in flight, so that the delete of the chunks comes after it and leaves none", async () => {
    const store = new GridFsBlobStore({ db: client.db("blobs_test"), chunkSizeBytes: 1024 });
    // A piece that fills a chunk (its insert is sent, and write() answers true at once), then the content fails.
    async function* content(): AsyncIterable<Buffer> {
      yield Buffer.alloc(1024, 1);
      throw new Error("the uploader went away");
    }
    await assert.rejects(store.write(content()), /the uploader went away/);
    // The upload's abort() and the bucket's delete() each delete the chunks (and the latter the files document).
    assert.deepEqual(
      timeline.filter((entry) => entry !== "delete blobs.files"),
      ["chunk insert received", "chunk insert answered", "delete blobs.chunks", "delete blobs.chunks"],
      "the chunks' deletes waited for the insert; one sent before its insert landed would leave that chunk behind",
    );
  });
});
