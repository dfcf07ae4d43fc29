// MongoDB helpers both stores use. Importing this loads the MongoDB driver: do it after telemetry started,
// and only on the paths that use MongoDB.
export { connectMongo } from "./src/mongo/mongo-client";
export { CausalReads } from "./src/mongo/causal-reads";
export { firstWriteError, isDuplicateKey, isRequestFault, isRequestFaultCode, isUnavailability, serverCode, ServerCode } from "./src/mongo/mongo-errors";
