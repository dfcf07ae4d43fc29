import path from "node:path";

/** The repository's root: the tests run from their sources (test/support here), so two levels up. */
export const REPO = path.resolve(__dirname, "..", "..");

/**
 * A test's helper script as Node runs it, compiled by `npm run build` (test/… → dist/test/…): scripts a test
 * starts as processes of their own run as plain Node, outside the test runner's transformer.
 */
export function compiledScript(testRelativePath: string): string {
  return path.join(REPO, "dist", "test", testRelativePath);
}
