/**
 * Where a service keeps its state on MongoDB, read from the environment. `MONGODB_URI` chooses MongoDB (unset or
 * empty: the embedded stores); `RECQ_MONGODB_DATABASE` names the database, with a default per service. Reading the
 * settings loads no driver, so a service on the embedded store never loads `mongodb`.
 */
export interface MongoSettings {
  /** The connection string. It may hold credentials: never log it. */
  uri: string;
  database: string;
}

export const MONGODB_URI_ENV = "MONGODB_URI";
export const MONGODB_DATABASE_ENV = "RECQ_MONGODB_DATABASE";

/** The MongoDB settings, or undefined when `MONGODB_URI` is unset (the service then runs on its embedded store). */
export function mongoSettingsFrom(env: NodeJS.ProcessEnv, defaultDatabase: string): MongoSettings | undefined {
  const uri = env[MONGODB_URI_ENV]?.trim() ?? "";
  if (uri === "") return undefined;
  const database = env[MONGODB_DATABASE_ENV]?.trim() || defaultDatabase;
  assertDatabaseName(database);
  return { uri, database };
}

/** MongoDB's rules for database names, checked at start so that a typo fails there and not at the first write. */
function assertDatabaseName(name: string): void {
  if (/[/\\. "$*<>:|?\0]/.test(name) || Buffer.byteLength(name) > 63) {
    throw new Error(`${MONGODB_DATABASE_ENV}: "${name}" is not a MongoDB database name (none of /\\. "$*<>:|? and at most 63 bytes)`);
  }
}
