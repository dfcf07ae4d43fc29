import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { GridFSBucket, MongoClient, ReadPreference, type WriteConcern } from "mongodb";
import { bucketOptions } from "@recq-mesh/kit/internal/blobs/gridfs-blob-store";

interface EffectiveOptions {
  bucketName: string;
  chunkSizeBytes: number;
  writeConcern: WriteConcern | undefined;
  readPreference: ReadPreference | undefined;
}

/** What the driver makes of the GridFS store's bucket options: no server needed (a bucket connects on first use). */
describe("GridFsBlobStore's bucket options, as the MongoDB driver reads them", () => {
  const effective = (options: Parameters<typeof bucketOptions>[0], uri = "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1") =>
    (new GridFSBucket(new MongoClient(uri).db("unused"), bucketOptions(options)) as unknown as { s: { options: EffectiveOptions } }).s.options;

  it("keeps the driver's 255 KiB chunks and names the bucket `blobs` when nothing is given", () => {
    const options = effective({});
    assert.deepEqual([options.bucketName, options.chunkSizeBytes], ["blobs", 255 * 1024]);
  });

  it("takes a chunk size and a bucket name when given", () => {
    const options = effective({ bucketName: "attachments", chunkSizeBytes: 65536 });
    assert.deepEqual([options.bucketName, options.chunkSizeBytes], ["attachments", 65536]);
  });

  it("writes with majority write concern and reads from the primary, whatever the URI says", () => {
    // Without the bucket's own settings the driver takes the database handle's, here the URI's.
    const options = effective({}, "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1&w=1&readPreference=secondaryPreferred");
    assert.equal(options.writeConcern?.w, "majority");
    assert.equal(options.readPreference?.mode, ReadPreference.PRIMARY);
  });
});
