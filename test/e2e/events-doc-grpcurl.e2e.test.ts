import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { startTelemetry } from "@recq-mesh/protocol/telemetry";
import { markdownSection, shellSteps, type ShellStep } from "../support/markdown-commands";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, grpcurlEnv } from "../support/tools";

/**
 * docs/async-flows.md, section "Events for clients": every grpcurl line run as written, in order, against one fresh
 * gateway and TodoList service in this process (the address 127.0.0.1:50051 replaced by the test gateway's).
 * What each line must do is read from the document:
 * - a ```json block after a ```sh block (prose may come between, no other block) is everything that block's first
 *   command prints, in order — for a subscription, the messages it prints before it is stopped (SIGINT, as Ctrl-C
 *   does); a string holding `…` stands for any text in its place;
 * - a comment that starts with "keeps running" under a subscription: the next command runs while it does, once it
 *   has printed its `caughtUp` progress;
 * - comment lines that start with `ERROR:` under a command: it fails, and prints each of those lines.
 */

const run = promisify(execFile);
const DOC = process.env.RECQ_ASYNC_FLOWS_UNDER_TEST ?? path.join(REPO, "docs", "async-flows.md");
const SECTION = "Events for clients";
const DOC_ADDRESS = "127.0.0.1:50051";
const CALL_TIMEOUT_MS = 20_000;
const PRINT_TIMEOUT_MS = 15_000;

interface Step extends ShellStep {
  /** The messages the document shows it prints. */
  shown?: unknown[];
  /** A subscription that the next step runs beside. */
  keepsRunning: boolean;
  fails: boolean;
}

/** The section's commands, each with what the document says it prints. */
function readSteps(section: string): Step[] {
  const steps: Step[] = [];
  let lastShBlockFirst: Step | undefined;
  for (const block of section.matchAll(/^```(\w*)\n[\s\S]*?^```$/gm)) {
    if (block[1] === "sh") {
      const blockSteps = shellSteps(block[0]).map((step) => ({
        ...step,
        keepsRunning: step.notes[0]?.startsWith("keeps running") ?? false,
        fails: step.notes[0] === "ERROR:",
      }));
      steps.push(...blockSteps);
      lastShBlockFirst = blockSteps[0];
    } else {
      if (block[1] === "json") {
        assert.ok(lastShBlockFirst, "every ```json block of the section follows the ```sh block whose output it shows");
        lastShBlockFirst!.shown = jsonObjects(block[0].replace(/^```json\n|```$/g, ""));
      }
      lastShBlockFirst = undefined;
    }
  }
  return steps;
}

/** The top-level JSON objects of a text as grpcurl prints them: each from a `{` to a `}` at the start of a line. */
function jsonObjects(text: string): unknown[] {
  return [...text.matchAll(/^\{$[\s\S]*?^\}$/gm)].map((match) => JSON.parse(match[0]) as unknown);
}

/** Asserts an answer is the one shown: the same fields and values, a `…` in a shown string standing for any text. */
function assertShown(actual: unknown, shown: unknown, where: string): void {
  if (typeof shown === "string" && shown.includes("…")) {
    const pattern = new RegExp(`^${shown.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    assert.ok(typeof actual === "string" && pattern.test(actual), `${where}: ${JSON.stringify(actual)} is ${JSON.stringify(shown)}`);
  } else if (typeof shown === "object" && shown !== null && !Array.isArray(shown)) {
    assert.ok(typeof actual === "object" && actual !== null, `${where} is an object`);
    const record = actual as Record<string, unknown>;
    assert.deepEqual(Object.keys(record).sort(), Object.keys(shown).sort(), `${where}'s fields`);
    for (const [key, value] of Object.entries(shown)) assertShown(record[key], value, `${where}.${key}`);
  } else {
    assert.deepEqual(actual, shown, where);
  }
}

describeWith(GRPCURL)("docs/async-flows.md, Events for clients: the grpcurl examples, verbatim", () => {
  const steps = readSteps(markdownSection(DOC, SECTION));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    // As the gateway's process does without OTEL_EXPORTER_OTLP_ENDPOINT: trace context propagates, nothing is recorded.
    startTelemetry("recq-test", []);
    data = await tempDir("events-doc");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    env = grpcurlEnv();
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  function shellLine(command: string): string {
    assert.match(command, /^grpcurl /, "the section's ```sh blocks hold grpcurl calls only");
    assert.ok(command.includes(DOC_ADDRESS), `${command} names ${DOC_ADDRESS}`);
    return `exec ${command.replaceAll(DOC_ADDRESS, mesh!.address)}`;
  }

  /** A call that ends by itself: it succeeds or fails as the document says, and prints what it shows. */
  async function runCall(step: Step): Promise<void> {
    const outcome = await run("bash", ["-c", shellLine(step.command)], { env, timeout: CALL_TIMEOUT_MS, killSignal: "SIGKILL" }).then(
      ({ stdout, stderr }) => ({ ok: true, stdout, text: stdout + stderr }),
      (error: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, stdout: error.stdout ?? "", text: `${error.stdout ?? ""}${error.stderr ?? ""}` || error.message }),
    );
    assert.equal(outcome.ok, !step.fails, `${step.command} ${step.fails ? "fails" : "succeeds"}:\n${outcome.text}`);
    if (step.fails) {
      const lines = outcome.text.split("\n").map((line) => line.trim());
      for (const shown of step.notes) assert.ok(lines.includes(shown.trim()), `${step.command} prints "${shown}":\n${outcome.text}`);
    }
    if (step.shown) step.shown.forEach((shown, index) => assertShown(jsonObjects(outcome.stdout)[index], shown, `${step.command}, answer ${index}`));
  }

  /** A subscription: run until it has printed what the document shows (the next step run beside it), then stopped. */
  async function runSubscription(step: Step, beside: Step | undefined): Promise<void> {
    const shown = step.shown;
    assert.ok(shown && shown.length > 0, `the document shows what ${step.command} prints`);
    const child = spawn("bash", ["-c", shellLine(step.command)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let [stdout, stderr] = ["", ""];
    let exited = false;
    const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const printed = async (count: number) => {
      for (const until = Date.now() + PRINT_TIMEOUT_MS; jsonObjects(stdout).length < count; ) {
        assert.ok(!exited, `${step.command} ended after ${jsonObjects(stdout).length} messages:\n${stdout}${stderr}`);
        assert.ok(Date.now() < until, `${step.command} printed ${jsonObjects(stdout).length} messages, not ${count}:\n${stdout}${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      if (beside) {
        const caughtUp = shown.findIndex((message) => (message as { progress?: { caughtUp?: boolean } }).progress?.caughtUp === true);
        assert.ok(caughtUp >= 0, `${step.command} shows its caughtUp progress before what comes live`);
        await printed(caughtUp + 1);
        await runCall(beside);
      }
      await printed(shown.length);
      assert.ok(!exited, `${step.command} still runs`);
    } finally {
      child.kill("SIGINT");
      const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exit;
      clearTimeout(kill);
    }
    const messages = jsonObjects(stdout);
    shown.forEach((message, index) => assertShown(messages[index], message, `${step.command}, message ${index}`));
  }

  it("runs every grpcurl line of the section, in order, each printing what the section shows", async () => {
    assert.ok(steps.some((step) => step.command.includes("recq.v1.EventService/SubscribeEvents")), "the section subscribes");
    let subscriptions = 0;
    for (let index = 0; index < steps.length; index++) {
      const step = steps[index]!;
      const subscription = step.command.includes("recq.v1.EventService/SubscribeEvents") && !step.fails;
      if (!subscription) {
        await runCall(step);
        continue;
      }
      subscriptions += 1;
      const beside = step.keepsRunning ? steps[++index] : undefined;
      if (step.keepsRunning) assert.ok(beside, `a command to run while ${step.command} runs`);
      await runSubscription(step, beside);
    }
    assert.ok(subscriptions >= 2, "a subscription from the start and a filtered, resumed one");
  }, 120_000);
});
