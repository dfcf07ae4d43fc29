import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "@jest/globals";
import { markdownSection } from "../support/markdown-commands";
import { REPO } from "../support/repository";

/** Every test file that runs only with MONGODB_URI: those guarded by `if (mongoTestsEnabled(…))`. */
function mongodbSuites(): string[] {
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const file = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith(".test.ts") && /if \(mongoTestsEnabled\("/.test(readFileSync(file, "utf8"))) files.push(path.relative(REPO, file));
    }
  };
  walk(path.join(REPO, "test"));
  return files.sort();
}

/** The test files a document's section names. */
function namedSuites(section: string): string[] {
  return [...section.matchAll(/test\/\S+\.test\.ts/g)].map((match) => match[0]).sort();
}

/** A `### ` subsection: from its heading to the next heading of its level or above. */
function subsection(markdownFile: string, heading: string): string {
  const text = readFileSync(path.join(REPO, markdownFile), "utf8");
  const start = text.indexOf(`\n### ${heading}\n`);
  assert.ok(start >= 0, `${markdownFile} has a section "### ${heading}"`);
  const end = text.slice(start + 1).search(/\n##?#? /);
  return end < 0 ? text.slice(start) : text.slice(start, start + 1 + end);
}

describe("the MongoDB suites, as the documents name them", () => {
  it("README's and configuration.md's command runs every suite that needs MONGODB_URI, and only those", () => {
    const suites = mongodbSuites();
    assert.ok(suites.length >= 8, suites.join(", "));
    assert.deepEqual(namedSuites(subsection("README.md", "Testing against MongoDB")), suites);
    assert.deepEqual(namedSuites(markdownSection(path.join(REPO, "docs", "configuration.md"), "MongoDB")), suites);
  });
});
