import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { eventually } from "./mesh-harness";
import { shellSteps, type ShellStep } from "./markdown-commands";

/**
 * Runs a document's shell commands as a reader would, against a test gateway: each command is the document's text
 * with one change, the address it names replaced by the gateway's. The conventions (shared by the README's and
 * docs/async-flows.md's tests):
 * - the comment lines right below a command are lines it prints, each of which must appear in its output, in that
 *   order; a command whose first such line is `ERROR:` must fail, every other one must succeed;
 * - a command whose first comment line starts with "keeps running" runs in the background: the rest of its block
 *   runs once it has printed its first shown line, and it is stopped (SIGINT, as Ctrl-C does) once it has printed
 *   every line shown below it.
 */
export class DocumentedCommands {
  constructor(
    /** Each address the document names (127.0.0.1:50051, 127.0.0.1:8080) and the test's in its place, asked when a command runs. */
    private readonly addresses: Record<string, () => string>,
    private readonly env: () => NodeJS.ProcessEnv,
    private readonly timeoutMs = 20_000,
  ) {}

  /** Runs a block's steps in order, a background step beside the ones after it. */
  async runBlock(steps: ShellStep[]): Promise<void> {
    const [first, ...rest] = steps;
    if (first === undefined) return;
    if (runsInBackground(first)) return this.runInBackground(first, () => this.runBlock(rest));
    await this.runStep(first);
    await this.runBlock(rest);
  }

  /** Runs one command to its end and checks it printed what the document shows. */
  async runStep(step: ShellStep): Promise<void> {
    const result = await promisify(execFile)("bash", ["-c", this.shellLine(step.command)], { env: this.env(), timeout: this.timeoutMs, killSignal: "SIGKILL" }).then(
      ({ stdout, stderr }) => ({ ok: true, text: stdout + stderr }),
      (error: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, text: `${error.stdout ?? ""}${error.stderr ?? ""}` || error.message }),
    );
    const shouldFail = step.notes[0]?.trim() === "ERROR:";
    assert.equal(result.ok, !shouldFail, `${step.command}\n${result.text}`);
    const missing = missingLine(result.text, shownLines(step));
    assert.equal(missing, undefined, `${step.command}\nshould print ${missing} (after the lines shown before it); it printed:\n${result.text}`);
  }

  private async runInBackground(step: ShellStep, meanwhile: () => Promise<void>): Promise<void> {
    // exec: the signal that stops it reaches the command itself, not the shell around it.
    const child = spawn("bash", ["-c", `exec ${this.shellLine(step.command)}`], { env: this.env(), stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const lines = shownLines(step);
    const printed = (count: number) =>
      eventually(async () => assert.equal(missingLine(text, lines.slice(0, count)), undefined, `${step.command} prints what the document shows; so far:\n${text}`), 15_000);
    try {
      await printed(1);
      await meanwhile();
      await printed(lines.length);
    } finally {
      child.kill("SIGINT");
      const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(kill);
    }
  }

  private shellLine(command: string): string {
    const named = Object.keys(this.addresses).filter((address) => command.includes(address));
    assert.ok(named.length > 0, `${command} names one of ${Object.keys(this.addresses).join(", ")}`);
    return named.reduce((line, address) => line.replaceAll(address, this.addresses[address]!()), command);
  }
}

function runsInBackground(step: ShellStep): boolean {
  return step.notes[0]?.startsWith("keeps running") ?? false;
}

/** What a step shows it prints: its comment lines, less a "keeps running" remark. */
function shownLines(step: ShellStep): string[] {
  return (runsInBackground(step) ? step.notes.slice(1) : step.notes).map((line) => line.trim());
}

/** The first of `lines` not found in `text` after the ones before it, or undefined when all are. */
function missingLine(text: string, lines: string[]): string | undefined {
  let from = 0;
  for (const line of lines) {
    const at = text.indexOf(line, from);
    if (at < 0) return line;
    from = at + line.length;
  }
  return undefined;
}

/** The ```sh blocks of a markdown text, each as its steps. */
export function shellBlocks(markdown: string): ShellStep[][] {
  return [...markdown.matchAll(/^```sh\n[\s\S]*?^```$/gm)].map((block) => shellSteps(block[0]));
}
