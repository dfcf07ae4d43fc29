import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { GridFSBucket, MongoClient } from "mongodb";
import { bucketOptions } from "@recq-mesh/kit/internal/blobs/gridfs-blob-store";

/** What the driver makes of the GridFS store's bucket options: no server needed (a bucket connects on first use). */
describe("GridFsBlobStore's bucket options, as the MongoDB driver reads them", () => {
  const client = new MongoClient("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1");
  const effective = (options: Parameters<typeof bucketOptions>[0]) =>
    (new GridFSBucket(client.db("unused"), bucketOptions(options)) as unknown as { s: { options: { bucketName: string; chunkSizeBytes: number } } }).s.options;

  it("keeps the driver's 255 KiB chunks and names the bucket `blobs` when nothing is given", () => {
    const options = effective({});
    assert.deepEqual([options.bucketName, options.chunkSizeBytes], ["blobs", 255 * 1024]);
  });

  it("takes a chunk size and a bucket name when given", () => {
    const options = effective({ bucketName: "attachments", chunkSizeBytes: 65536 });
    assert.deepEqual([options.bucketName, options.chunkSizeBytes], ["attachments", 65536]);
  });
});
