import assert from "node:assert/strict";
import path from "node:path";
import { afterAll, beforeAll, it } from "@jest/globals";
import { DocumentedCommands, shellBlocks } from "../support/documented-commands";
import { markdownSection } from "../support/markdown-commands";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, grpcurlEnv } from "../support/tools";

/**
 * The grpcurl examples of docs/async-flows.md's "Accepted commands" and "Outcomes by command id", run as written,
 * in order, against one gateway with the TodoList linked, by the conventions of documented-commands.ts.
 */

const DOC = path.join(REPO, "docs", "async-flows.md");
const SECTIONS = ["Accepted commands", "Outcomes by command id"];

describeWith(GRPCURL)("docs/async-flows.md's grpcurl examples, verbatim, against the running mesh", () => {
  const blocks = SECTIONS.flatMap((heading) => shellBlocks(markdownSection(DOC, heading)));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;
  const commands = new DocumentedCommands({ "127.0.0.1:50051": () => mesh!.address }, grpcurlEnv);

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
    const written = blocks.flat().map((step) => step.command).join("\n");
    assert.match(written, /-H 'recq-mode: async'/);
    assert.match(written, /recq\.v1\.CommandOutcomeService\/WatchOutcome/);
    assert.match(written, /recq\.v1\.CommandOutcomeService\/GetOutcome/);
  });

  it("each example prints what the document shows", async () => {
    for (const steps of blocks) await commands.runBlock(steps);
  });
});
