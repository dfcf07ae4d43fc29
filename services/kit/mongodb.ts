// The MongoDB view store, for a service that opens it itself (most use openViewStore from the index). Importing
// this loads the MongoDB driver: do it after telemetry started.
export { MongoViewStore } from "./src/views/mongo-view-store";
export type { MongoViewStoreOptions } from "./src/views/mongo-view-store-options";
export { connectMongo } from "@recq-mesh/protocol/mongodb";
export { GridFsBlobStore, type GridFsBlobStoreOptions } from "./src/blobs/gridfs-blob-store";
