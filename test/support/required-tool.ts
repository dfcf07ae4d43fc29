import { appendFileSync } from "node:fs";
import { describe, it } from "@jest/globals";

/**
 * Tests that need a tool the machine may lack (docker-compose, a Python with grpcio, grpcurl, Go, MongoDB): run
 * when it is there; otherwise skipped, with one line naming the tool and how to get it, which the test command's
 * summary repeats (scripts/run-tests.sh). In CI (`CI=true`) a missing tool fails the run instead, except the
 * tools CI may lack (`optionalInCi`: MongoDB, which no CI machine here can run).
 */
export interface RequiredTool {
  /** What it is, as a person installs it: "grpcurl", "docker-compose". */
  tool: string;
  /** How to get it, one line. */
  install: string;
  /** Whether it is there; asked when the test file registers its tests, so a skip shows as a skip. */
  readonly available: boolean;
  optionalInCi?: boolean;
}

/** `describe`, or `describe.skip` with its reason said, as the tool is there or not. */
export function describeWith(requirement: RequiredTool): typeof describe.skip {
  return skipping(requirement) ? describe.skip : describe;
}

/** `it`, or `it.skip` with its reason said, as the tool is there or not. */
export function itWith(requirement: RequiredTool): typeof it.skip {
  return skipping(requirement) ? it.skip : it;
}

function skipping({ tool, install, available, optionalInCi = false }: RequiredTool): boolean {
  if (available) return false;
  const why = `${tool} is not installed (${install})`;
  if (process.env.CI === "true" && !optionalInCi) {
    // Registered as a failing test, so CI fails loudly where a tool it installs is missing.
    it(`needs ${tool}`, () => {
      throw new Error(`${why}: CI must install it (.ci/run)`);
    });
    return true;
  }
  noteSkipped(why);
  return true;
}

/** Says on stderr why tests are skipped, and tells the test command's summary (RECQ_SKIP_LOG). */
export function noteSkipped(why: string): void {
  process.stderr.write(`skipped: ${why}\n`);
  if (process.env.RECQ_SKIP_LOG) appendFileSync(process.env.RECQ_SKIP_LOG, `${why}\n`);
}
