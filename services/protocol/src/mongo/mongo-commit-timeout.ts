/**
 * `RECQ_MONGODB_COMMIT_TIMEOUT_MS`: how long a MongoDB commit, or a write outside one, may wait for a majority. The
 * gateway (config.ts) and the kit's stores (views, blobs) read the same setting with the same bounds. Reading it
 * loads no driver.
 */
export const MONGODB_COMMIT_TIMEOUT_ENV = "RECQ_MONGODB_COMMIT_TIMEOUT_MS";

export const DEFAULT_MONGODB_COMMIT_TIMEOUT_MS = 10_000;

/**
 * The largest bound: the server refuses a `maxTimeMS` above 2^31−1 ms (BadValue), and a commit is sent with this
 * bound as its `maxTimeMS` and the bound plus 1 s as its `wtimeout` (so that `maxTimeMS` decides). A larger value
 * would fail every commit with an error that is not the store's unavailability — a projection would count it
 * against the event and park it — so it is refused at start instead. (2^31−1−1000 ms is still 24.8 days.)
 */
export const MAX_MONGODB_COMMIT_TIMEOUT_MS = 2 ** 31 - 1 - 1000;

/** The setting from the environment: undefined when unset or empty; anything but a whole number in 1..the maximum throws. */
export function mongoCommitTimeoutFrom(env: NodeJS.ProcessEnv): number | undefined {
  const text = env[MONGODB_COMMIT_TIMEOUT_ENV]?.trim() ?? "";
  if (text === "") return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1 || value > MAX_MONGODB_COMMIT_TIMEOUT_MS) {
    throw new Error(
      `${MONGODB_COMMIT_TIMEOUT_ENV}: "${text.slice(0, 40)}" is not a whole number of milliseconds from 1 to ${MAX_MONGODB_COMMIT_TIMEOUT_MS}`,
    );
  }
  return value;
}
