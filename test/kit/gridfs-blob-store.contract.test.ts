import { afterAll } from "@jest/globals";
import { GridFsBlobStore } from "@recq-mesh/kit/mongodb";
import { mongoTestsEnabled, MongoTestServer } from "../support/mongo";
import { runBlobStoreContract } from "./blob-store.suite";

/**
 * The GridFS blob store, against a real server: runs when MONGODB_URI is set (any topology GridFS works on; a
 * single-node replica set will do), each test in a fresh database, dropped after. Unfinished writes are chunks
 * without a files document.
 */
if (mongoTestsEnabled("GridFS blob store")) {
  const server = new MongoTestServer();
  afterAll(() => server.close());

  runBlobStoreContract("gridfs", async () => {
    const database = await server.freshDatabase("blobs");
    // Small chunks, so that the contract's writes span several chunk documents.
    const store = new GridFsBlobStore({ db: database.db, chunkSizeBytes: 64 * 1024 });
    const files = database.db.collection("blobs.files");
    const chunks = database.db.collection("blobs.chunks");
    return {
      store,
      visible: () => files.countDocuments(),
      unfinished: async () => {
        const ids = (await files.find({}, { projection: { _id: 1 } }).toArray()).map((file) => file._id);
        return chunks.countDocuments({ files_id: { $nin: ids } });
      },
      cleanup: () => database.drop(),
    };
  });
}
