import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { markdownSection, shellSteps, type ShellStep } from "../support/markdown-commands";
import { eventually, startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith, type RequiredTool } from "../support/required-tool";
import { GRPCURL, GRPCURL_PATH } from "../support/tools";

/**
 * The README's "Asynchronous flows" section, run with grpcurl exactly as written, in order, against one fresh gateway
 * and TodoList service (the address 127.0.0.1:50051 replaced by the test gateway's).
 *
 * - The comment lines right below a command are lines it prints, each of which must appear in its output, in that
 *   order; a command that shows `ERROR:` must fail, every other one must succeed.
 * - A command whose first comment line starts with "keeps running" runs in the background: the rest of its ```sh
 *   block runs once it has printed its first shown line (a listener is listening, say), and it is stopped (SIGINT,
 *   as Ctrl-C does) once it has printed every line shown below it.
 */

const run = promisify(execFile);
const README = process.env.RECQ_README_UNDER_TEST ?? path.join(REPO, "README.md");
const SECTION = "Asynchronous flows";
const README_ADDRESS = "127.0.0.1:50051";
const CALL_TIMEOUT_MS = 20_000;

const GRPCURL_FOUND: string | undefined =
  GRPCURL_PATH ??
  [spawnSync("go", ["env", "GOPATH"], { encoding: "utf8", timeout: 10_000 }).stdout?.trim(), path.join(os.homedir(), "go")]
    .filter((dir): dir is string => Boolean(dir))
    .map((dir) => path.join(dir, "bin", "grpcurl"))
    .find((candidate) => existsSync(candidate));
const NEEDS_GRPCURL: RequiredTool = { ...GRPCURL, available: GRPCURL_FOUND !== undefined };

/** The section's ```sh blocks, each as its steps. */
function blocksOf(section: string): ShellStep[][] {
  return [...section.matchAll(/^```sh\n[\s\S]*?^```$/gm)].map((block) => shellSteps(block[0]));
}

const runsInBackground = (step: ShellStep) => step.notes[0]?.startsWith("keeps running") ?? false;
/** What a step shows it prints: its comment lines, less a "keeps running" remark. */
const shownLines = (step: ShellStep) => (runsInBackground(step) ? step.notes.slice(1) : step.notes).map((line) => line.trim());

/** Where the shown lines are in `text`, in order; the first one missing is reported. */
function missingLine(text: string, lines: string[]): string | undefined {
  let from = 0;
  for (const line of lines) {
    const at = text.indexOf(line, from);
    if (at < 0) return line;
    from = at + line.length;
  }
  return undefined;
}

describeWith(NEEDS_GRPCURL)("the README's asynchronous flows, verbatim, against the running mesh", () => {
  const blocks = blocksOf(markdownSection(README, SECTION));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    data = await tempDir("readme-async");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    env = { ...process.env, PATH: `${path.dirname(GRPCURL_FOUND!)}${path.delimiter}${process.env.PATH ?? ""}` };
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  function shellLine(command: string): string {
    assert.ok(command.includes(README_ADDRESS), `${command} names ${README_ADDRESS}`);
    return `exec ${command.replaceAll(README_ADDRESS, mesh!.address)}`;
  }

  async function runStep(step: ShellStep): Promise<void> {
    const result = await run("bash", ["-c", shellLine(step.command)], { env, timeout: CALL_TIMEOUT_MS, killSignal: "SIGKILL" }).then(
      ({ stdout, stderr }) => ({ ok: true, text: stdout + stderr }),
      (error: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, text: `${error.stdout ?? ""}${error.stderr ?? ""}` || error.message }),
    );
    const shouldFail = step.notes[0]?.trim() === "ERROR:";
    assert.equal(result.ok, !shouldFail, `${step.command}\n${result.text}`);
    const missing = missingLine(result.text, shownLines(step));
    assert.equal(missing, undefined, `${step.command}\nshould print ${missing} (after the lines shown before it); it printed:\n${result.text}`);
  }

  /** Runs `step` in the background while `meanwhile` runs; stops it once it has printed what the README shows. */
  async function runInBackground(step: ShellStep, meanwhile: () => Promise<void>): Promise<void> {
    const child = spawn("bash", ["-c", shellLine(step.command)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const lines = shownLines(step);
    const printed = (count: number) =>
      eventually(async () => assert.equal(missingLine(text, lines.slice(0, count)), undefined, `${step.command} prints what the README shows; so far:\n${text}`), 15_000);
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

  async function runSteps(steps: ShellStep[]): Promise<void> {
    const [first, ...rest] = steps;
    if (first === undefined) return;
    if (runsInBackground(first)) return runInBackground(first, () => runSteps(rest));
    await runStep(first);
    await runSteps(rest);
  }

  it("shows each of the four flows, with the RPCs the section names", () => {
    const commands = blocks.flat().map((step) => step.command).join("\n");
    for (const shown of [
      /-H 'recq-mode: async'/,
      /recq\.v1\.CommandOutcomeService\/WatchOutcome/,
      /recq\.v1\.ReplyChannelService\/Open/,
      /recq\.v1\.ReplyChannelService\/Listen/,
      /-H 'recq-reply-to: /,
      /recq\.v1\.EventService\/SubscribeEvents/,
    ]) {
      assert.match(commands, shown);
    }
  });

  it("runs every grpcurl line of the section, in order, each printing what the README shows", async () => {
    assert.ok(blocks.length >= 5, `the section's examples (${blocks.length} blocks)`);
    for (const steps of blocks) await runSteps(steps);
    // The accepted command ran exactly once: the list exists once, with the one item the channel added, completed.
    const history = await mesh!.store.readAggregate("TodoList", "shopping");
    assert.deepEqual(
      history.events.map((event) => event.type),
      ["todo.v1.TodoListCreated", "todo.v1.TodoItemAdded", "todo.v1.TodoItemCompleted"],
    );
  }, 120_000);
});
