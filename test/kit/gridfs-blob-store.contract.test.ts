import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { afterAll, describe, it } from "@jest/globals";
import { MongoClient, type CommandStartedEvent } from "mongodb";
import { GridFsBlobStore } from "@recq-mesh/kit/mongodb";
import { MONGODB_URI, mongoTestsEnabled, MongoTestServer } from "../support/mongo";
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

  describe("GridFS blob store: what the driver leaves to it", () => {
    it("a write whose files document is refused leaves none of its chunks (the upload's abort() refuses once it ended)", async () => {
      const database = await server.freshDatabase("blobs-refused");
      try {
        // The chunks go in; the files document, written last, fails validation.
        await database.db.createCollection("blobs.files", { validator: { $jsonSchema: { required: ["neverWrittenByGridFs"] } }, validationAction: "error" });
        const store = new GridFsBlobStore({ db: database.db, chunkSizeBytes: 1024 });
        await assert.rejects(store.write(pieces(randomBytes(10 * 1024 + 7))), /validation/i);
        assert.equal(await database.db.collection("blobs.chunks").countDocuments(), 0, "no chunk left");
        assert.equal(await database.db.collection("blobs.files").countDocuments(), 0);
      } finally {
        await database.drop();
      }
    }, 20_000);

    it("a read stopped after its first piece kills its chunks cursor on the server", async () => {
      const database = await server.freshDatabase("blobs-early-stop");
      // A client of its own, to see the commands it sends.
      const client = new MongoClient(MONGODB_URI!, { monitorCommands: true });
      const killed: CommandStartedEvent[] = [];
      client.on("commandStarted", (event) => {
        if (event.commandName === "killCursors") killed.push(event);
      });
      try {
        await client.connect();
        const store = new GridFsBlobStore({ db: client.db(database.name), chunkSizeBytes: 1024 });
        // 300 chunks: more than a find's first batch (101 documents), so the cursor stays open on the server.
        const stored = await store.write(pieces(randomBytes(300 * 1024)));
        for await (const piece of store.read(stored.reference, { chunkBytes: 1024 })) {
          assert.equal(piece.length, 1024);
          break;
        }
        assert.deepEqual(
          killed.map((event) => event.command.killCursors),
          ["blobs.chunks"],
          "the early stop closed the cursor instead of leaving it to the server's idle timeout",
        );
      } finally {
        await client.close();
        await database.drop();
      }
    }, 20_000);
  });
}

async function* pieces(...parts: Buffer[]): AsyncIterable<Buffer> {
  for (const part of parts) yield part;
}
