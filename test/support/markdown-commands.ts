import { readFileSync } from "node:fs";

/** A fenced block of a markdown document: its info string (```sh → "sh") and its text. */
export interface FencedBlock {
  info: string;
  text: string;
}

export function fencedBlocks(markdownFile: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  for (const match of readFileSync(markdownFile, "utf8").matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)) {
    blocks.push({ info: (match[1] ?? "").trim(), text: match[2] ?? "" });
  }
  return blocks;
}

/**
 * The shell commands of a document's ```sh blocks, in order: one per line, a trailing backslash joining the next
 * line, comment lines dropped. A trailing `# comment` stays: a test may read it (the shell ignores it).
 */
export function shellCommands(markdownFile: string): string[] {
  return fencedBlocks(markdownFile)
    .filter((block) => block.info === "sh")
    .flatMap((block) => block.text.replace(/\\\n\s*/g, "").split("\n"))
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** A command of a ```sh block with the comment lines right below it, where a document shows what it prints. */
export interface ShellStep {
  command: string;
  notes: string[];
}

/** The ```sh commands of a markdown text, in order, each with the comment lines that follow it. */
export function shellSteps(markdown: string): ShellStep[] {
  const steps: ShellStep[] = [];
  for (const match of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    let last: ShellStep | undefined;
    for (const raw of (match[1] ?? "").replace(/\\\n\s*/g, "").split("\n")) {
      const line = raw.trim();
      if (line === "") {
        last = undefined;
      } else if (line.startsWith("#")) {
        last?.notes.push(line.replace(/^#\s?/, ""));
      } else {
        last = { command: line, notes: [] };
        steps.push(last);
      }
    }
  }
  return steps;
}

/** The text of one `## ` section of a markdown file, its heading included. */
export function markdownSection(markdownFile: string, heading: string): string {
  const text = readFileSync(markdownFile, "utf8");
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`${markdownFile} has no section "## ${heading}"`);
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}
