import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { startProcess, type BackgroundProcess } from "../support/background-process";
import { fencedBlocks, markdownSection, shellSteps } from "../support/markdown-commands";
import { tempDir } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, GRPCURL_PATH } from "../support/tools";
import { freePort } from "../support/free-port";

/**
 * docs/security.md, section "Worked example": every command run as written, in order, in a fresh folder standing for
 * the repository root (its `services` and `node_modules` are links to this checkout's), with the address
 * 127.0.0.1:50051 replaced by a free port. What each must do is read from the document:
 * - a ```json block whose info string names a file (```json tls-demo/security.json) is written to that file;
 * - a command ending with `&` runs on; the comment under it names, in quotes, the log line that says it is ready,
 *   and each `…`-separated part of that comment must be in its output (what the gateway says of its transport);
 * - a command followed by an `ERROR:` comment fails, printing each of the comment lines after it; any other succeeds.
 */

const run = promisify(execFile);
const DOC = path.join(REPO, "docs", "security.md");
const SECTION = "Worked example";
const DOC_ADDRESS = "127.0.0.1:50051";

describeWith(GRPCURL)("docs/security.md: the worked example, as written", () => {
  let temp: { dir: string; remove(): Promise<void> };
  const running: BackgroundProcess[] = [];

  beforeAll(async () => {
    temp = await tempDir("security-doc");
    symlinkSync(path.join(REPO, "services"), path.join(temp.dir, "services"));
    symlinkSync(path.join(REPO, "node_modules"), path.join(temp.dir, "node_modules"));
  });

  afterAll(async () => {
    for (const process of running.reverse()) await process.stop();
    await temp.remove();
  });

  it("makes the certificates and the token, serves TLS with the security file, and refuses what it says", async () => {
    const section = markdownSection(DOC, SECTION);
    const sectionFile = path.join(temp.dir, "section.md");
    writeFileSync(sectionFile, section);
    const address = `127.0.0.1:${await freePort()}`;
    // The document's gateway and service keep their state in the data folder it names: a MONGODB_URI of the test
    // run (for the MongoDB suites) would put them in the default databases, shared by every run and never dropped.
    const env = { ...process.env, MONGODB_URI: "", PATH: `${path.dirname(GRPCURL_PATH!)}${path.delimiter}${process.env.PATH}` };
    // The document's blocks in order: a ```json <file> block is written when the commands before it have run.
    const blocks = fencedBlocks(sectionFile).filter((block) => block.info === "sh" || block.info.startsWith("json "));
    assert.ok(blocks.some((block) => block.info === "json tls-demo/security.json"), "the section writes tls-demo/security.json");
    let grpcurlRuns = 0;
    for (const block of blocks) {
      if (block.info !== "sh") {
        const file = path.join(temp.dir, block.info.slice("json ".length));
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, block.text);
        continue;
      }
      for (const step of shellSteps("```sh\n" + block.text + "```\n")) {
        const command = step.command.split(DOC_ADDRESS).join(address);
        if (command.endsWith("&")) {
          const ready = /^"([^"]+)"/.exec(step.notes[0] ?? "");
          assert.ok(ready, `${step.command}: the comment under it names its ready line`);
          const started = await startProcess("bash", ["-c", command.slice(0, -1).trim()], { cwd: temp.dir, env, ready: new RegExp(ready[1]!), timeoutMs: 30_000 });
          running.push(started);
          for (const part of step.notes[0]!.split(" … ").slice(1)) assert.ok(started.output().includes(part), `${step.command} prints ${part}:\n${started.output()}`);
          continue;
        }
        if (command.startsWith("grpcurl")) grpcurlRuns += 1;
        const outcome = await run("bash", ["-c", command], { cwd: temp.dir, env, timeout: 30_000 }).then(
          ({ stdout, stderr }) => ({ ok: true, output: stdout + stderr }),
          (error: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, output: `${error.stdout ?? ""}${error.stderr ?? ""}${error.message}` }),
        );
        if (step.notes[0] === "ERROR:") {
          assert.equal(outcome.ok, false, `${step.command} fails`);
          for (const line of step.notes.slice(1)) assert.ok(outcome.output.includes(line.trim()), `${step.command} prints "${line.trim()}":\n${outcome.output}`);
        } else {
          assert.ok(outcome.ok, `${step.command}:\n${outcome.output}`);
          if (command.includes("GetTodoList")) assert.match(outcome.output, /"name": "Groceries"/);
        }
      }
    }
    assert.equal(grpcurlRuns, 7);

    // The README's Docker Compose section calls the TLS gateway the same certificates make: its grpcurl lines work
    // against this one (the compose stack itself needs a Docker engine).
    const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
    const compose = readme.slice(readme.indexOf("### The whole stack with Docker Compose"), readme.indexOf("\n### ", readme.indexOf("### The whole stack with Docker Compose") + 1));
    const composeCalls = shellSteps(compose).filter((step) => step.command.startsWith("grpcurl"));
    assert.ok(composeCalls.length > 0, "the README's compose section shows a grpcurl call");
    for (const step of composeCalls) {
      const { stdout } = await run("bash", ["-c", step.command.split(DOC_ADDRESS).join(address)], { cwd: temp.dir, env, timeout: 30_000 });
      assert.match(stdout, /"status": "SERVING"/, step.command);
    }
  });
});
