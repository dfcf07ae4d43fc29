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
