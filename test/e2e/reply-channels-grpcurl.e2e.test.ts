import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { fencedBlocks, markdownSection, shellSteps } from "../support/markdown-commands";
import { eventually, startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, GRPCURL_PATH, grpcurlEnv } from "../support/tools";
import { within } from "../support/raw-grpc";

/**
 * docs/async-flows.md, "Reply-to channels": its grpcurl commands run as written (the address replaced by the test
 * gateway's), in order, against a fresh gateway and TodoList service; what they print is checked against the
 * output the section shows (its plain ``` blocks), a `…` standing for any string, answers matched by id.
 */

const run = promisify(execFile);
const DOC = path.join(REPO, "docs", "async-flows.md");
const SECTION = "Reply-to channels";
const DOC_ADDRESS = "127.0.0.1:50051";

/** The top-level JSON objects grpcurl printed: each starts with `{` and ends with `}` at the start of a line. */
function printedObjects(text: string): Record<string, unknown>[] {
  return [...text.matchAll(/^\{$[\s\S]*?^\}$/gm)].map((match) => JSON.parse(match[0]) as Record<string, unknown>);
}

/** Asserts that an answer is the one the document shows: the same fields, a shown `…` standing for any string. */
function assertShown(actual: unknown, shown: unknown, where: string): void {
  if (typeof shown === "string" && shown.includes("…")) assert.equal(typeof actual, "string", `${where} is a string`);
  else if (typeof shown === "object" && shown !== null) {
    assert.ok(typeof actual === "object" && actual !== null, `${where} is an object`);
    const record = actual as Record<string, unknown>;
    assert.deepEqual(Object.keys(record).sort(), Object.keys(shown).sort(), `${where}'s fields`);
    for (const [key, value] of Object.entries(shown)) assertShown(record[key], value, `${where}.${key}`);
  } else assert.deepEqual(actual, shown, where);
}

describeWith(GRPCURL)("the reply-to channel examples of docs/async-flows.md, verbatim, against the running mesh", () => {
  const section = markdownSection(DOC, SECTION);
  const steps = shellSteps(section);
  /** The outputs the section shows, in order: the Open stream's answers, then the listener's messages. */
  const shownOutputs = fencedBlocks(DOC)
    .filter((block) => block.info === "" && section.includes(block.text))
    .map((block) => printedObjects(block.text));
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let env: NodeJS.ProcessEnv;

  const command = (index: number) => steps[index]!.command.replaceAll(DOC_ADDRESS, mesh.address);
  const shell = (index: number) => run("bash", ["-c", command(index)], { env, timeout: 20_000 });

  beforeAll(async () => {
    data = await tempDir("reply-grpcurl");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    env = grpcurlEnv();
  });

  afterAll(async () => {
    todo.mesh.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("has the commands and outputs the test reads", () => {
    assert.equal(steps.length, 5, steps.map((s) => s.command).join("\n"));
    assert.equal(shownOutputs.length, 2);
  });

  it("lists the service through reflection", async () => {
    const { stdout } = await run(GRPCURL_PATH!, ["-plaintext", mesh.address, "list"], { env, timeout: 20_000 });
    assert.ok(stdout.split("\n").includes("recq.v1.ReplyChannelService"), stdout);
  });

  it("Open: several requests on one stream, answered by id; then a query that sees them", async () => {
    const { stdout } = await shell(0);
    const answers = printedObjects(stdout);
    const shown = shownOutputs[0]!;
    assert.equal(answers.length, shown.length, stdout);
    for (const expected of shown) {
      const answer = answers.find((a) => a.id === expected.id);
      assertShown(answer, expected, `the answer to ${String(expected.id)}`);
    }
    const [read] = printedObjects((await shell(1)).stdout) as { id: string; answer: { "@type": string; items: { itemId: string }[] } }[];
    assert.equal(read?.id, "read");
    assert.equal(read.answer["@type"], "type.googleapis.com/todo.v1.TodoListView");
    assert.deepEqual(read.answer.items.map((item) => item.itemId), ["dishes"]);
  });

  it("Listen + recq-reply-to: the listener prints the succeeded and the failed outcome", async () => {
    const listener = spawn("bash", ["-c", command(2)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let printed = "";
    listener.stdout.on("data", (chunk: Buffer) => (printed += chunk.toString()));
    const exited = new Promise((resolve) => listener.on("exit", resolve));
    try {
      await eventually(async () => assert.ok(printedObjects(printed).length >= 1, "listening"), 15_000);
      await shell(3);
      const refused = await shell(4).then(
        () => assert.fail("the second AddTodoItem should fail"),
        (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
      );
      for (const line of steps[4]!.notes) assert.ok(refused.includes(line.trim()), `it prints "${line.trim()}":\n${refused}`);
      const shown = shownOutputs[1]!;
      await eventually(async () => assert.equal(printedObjects(printed).length, shown.length, printed), 15_000);
      printedObjects(printed).forEach((message, index) => assertShown(message, shown[index], `the listener's message ${index + 1}`));
    } finally {
      listener.kill("SIGINT");
      await within(exited, 10_000, "the listener's exit");
    }
  });
});
