import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { markdownSection, shellSteps } from "../support/markdown-commands";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith, type RequiredTool } from "../support/required-tool";
import { GRPCURL, GRPCURL_PATH } from "../support/tools";

/**
 * The grpcurl examples of docs/async-flows.md's "Accepted commands" and "Outcomes by command id", run as written,
 * in order, against one gateway with the TodoList linked (the address 127.0.0.1:50051 replaced by the test
 * gateway's). The comment lines right below a command are lines of what it prints, each of which must appear in its
 * output, in that order; a command that shows `ERROR:` must fail, every other one must succeed.
 */

const run = promisify(execFile);
const DOC = path.join(REPO, "docs", "async-flows.md");
const SECTIONS = ["Accepted commands", "Outcomes by command id"];
const DOC_ADDRESS = "127.0.0.1:50051";

const GRPCURL_FOUND: string | undefined =
  GRPCURL_PATH ??
  [spawnSync("go", ["env", "GOPATH"], { encoding: "utf8", timeout: 10_000 }).stdout?.trim(), path.join(os.homedir(), "go")]
    .filter((dir): dir is string => Boolean(dir))
    .map((dir) => path.join(dir, "bin", "grpcurl"))
    .find((candidate) => existsSync(candidate));
const NEEDS_GRPCURL: RequiredTool = { ...GRPCURL, available: GRPCURL_FOUND !== undefined };

describeWith(NEEDS_GRPCURL)("docs/async-flows.md's grpcurl examples, verbatim, against the running mesh", () => {
  const steps = SECTIONS.flatMap((heading) => shellSteps(markdownSection(DOC, heading)));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;

  beforeAll(async () => {
    data = await tempDir("async-grpcurl");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address, { roles: ["commands"] });
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  it("has examples for each RPC: an accepted command, WatchOutcome and GetOutcome", () => {
    const commands = steps.map((step) => step.command).join("\n");
    assert.match(commands, /-H 'recq-mode: async'/);
    assert.match(commands, /recq\.v1\.CommandOutcomeService\/WatchOutcome/);
    assert.match(commands, /recq\.v1\.CommandOutcomeService\/GetOutcome/);
  });

  it("each example prints what the document shows", async () => {
    const env = { ...process.env, PATH: `${path.dirname(GRPCURL_FOUND!)}${path.delimiter}${process.env.PATH ?? ""}` };
    for (const step of steps) {
      assert.ok(step.command.includes(DOC_ADDRESS), `${step.command} names ${DOC_ADDRESS}`);
      const line = `exec ${step.command.replaceAll(DOC_ADDRESS, mesh!.address)}`;
      const result = await run("bash", ["-c", line], { env, timeout: 20_000, killSignal: "SIGKILL" }).then(
        ({ stdout, stderr }) => ({ ok: true, text: stdout + stderr }),
        (error: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, text: `${error.stdout ?? ""}${error.stderr ?? ""}` || error.message }),
      );
      const shouldFail = step.notes[0]?.trim() === "ERROR:";
      assert.equal(result.ok, !shouldFail, `${step.command}\n${result.text}`);
      let from = 0;
      for (const note of step.notes) {
        const at = result.text.indexOf(note.trim(), from);
        assert.ok(at >= 0, `${step.command} should print "${note.trim()}" (after what came before it); it printed:\n${result.text}`);
        from = at + note.trim().length;
      }
    }
  });
});
