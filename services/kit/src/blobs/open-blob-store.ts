/* eslint-disable @typescript-eslint/no-require-imports -- the MongoDB driver is loaded only when MONGODB_URI is set */
import { mongoCommitTimeoutFrom, mongoSettingsFrom } from "@recq-mesh/protocol";
import type { BlobStore } from "./blob-store";
import { FolderBlobStore } from "./folder-blob-store";

export interface OpenBlobStoreOptions {
  /** The database when `RECQ_MONGODB_DATABASE` is unset. */
  defaultDatabase: string;
  appName: string;
  /** The folder when `RECQ_BLOB_DIR` is unset. */
  defaultFolder: string;
}

/**
 * The blob store the environment asks for: GridFS (bucket `blobs`) when `MONGODB_URI` is set, otherwise a folder,
 * `RECQ_BLOB_DIR` (its writes in progress are cleared as it opens). Processes that upload and processes that
 * download must share it: the same database, or the same folder.
 */
export async function openBlobStore(env: NodeJS.ProcessEnv, options: OpenBlobStoreOptions): Promise<BlobStore> {
  const mongo = mongoSettingsFrom(env, options.defaultDatabase);
  if (mongo === undefined) return FolderBlobStore.open(env.RECQ_BLOB_DIR || options.defaultFolder);
  // RECQ_MONGODB_COMMIT_TIMEOUT_MS bounds an upload's wait for a majority, as it bounds the view store's; checked before connecting.
  const majorityWaitMs = mongoCommitTimeoutFrom(env);
  const { connectMongo } = require("@recq-mesh/protocol/mongodb") as typeof import("@recq-mesh/protocol/mongodb");
  const { GridFsBlobStore } = require("./gridfs-blob-store") as typeof import("./gridfs-blob-store");
  const client = await connectMongo(mongo, options.appName);
  const store = new GridFsBlobStore({ db: client.db(mongo.database), majorityWaitMs });
  return { write: (c, o) => store.write(c, o), read: (r, o) => store.read(r, o), close: () => client.close() };
}
