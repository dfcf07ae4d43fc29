import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { GridFSBucket, MongoClient, MongoNetworkError, MongoServerError, ReadPreference, type WriteConcern } from "mongodb";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { bucketOptions, gridFsFailure } from "@recq-mesh/kit/internal/blobs/gridfs-blob-store";

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

  it("bounds the wait for a majority (wtimeout): 10 s unless given, RECQ_MONGODB_COMMIT_TIMEOUT_MS's default", () => {
    // Without a wtimeout every upload hangs where there is no majority (a PSA set with its secondary down).
    assert.equal(effective({}).writeConcern?.wtimeoutMS, 10_000);
    assert.equal(effective({ majorityWaitMs: 4_321 }).writeConcern?.wtimeoutMS, 4_321);
  });
});

describe("GridFsBlobStore's failures", () => {
  it("makes an unavailable server or network UNAVAILABLE (STORE_UNAVAILABLE), and leaves any other failure as it is", () => {
    for (const error of [new MongoNetworkError("connection 2 to 127.0.0.1:27017 closed"), new MongoServerError({ message: "not primary", code: 10107 })]) {
      const mapped = gridFsFailure(error, "a blob write");
      assert.ok(mapped instanceof MeshError, String(mapped));
      assert.deepEqual([mapped.code, mapped.reason, mapped.cause], [status.UNAVAILABLE, Reason.STORE_UNAVAILABLE, error]);
      assert.match(mapped.message, /^a blob write failed: the blob store's MongoDB is unavailable/);
    }
    const refused = new MongoServerError({ message: "Document failed validation", code: 121 });
    assert.equal(gridFsFailure(refused, "a blob write"), refused);
  });
});
