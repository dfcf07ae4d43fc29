import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { RebuildState } from "@recq-mesh/protocol/gen/recq/v1/projections";
import { DocumentedCommands, shellBlocks } from "../support/documented-commands";
import { markdownSection } from "../support/markdown-commands";
import { eventually, startGateway, tempDir, type RunningGateway } from "../support/mesh-harness";
import { startRebuildableTodo, type RebuildableTodo } from "../support/rebuild-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, grpcurlEnv } from "../support/tools";

/**
 * The README's "Rebuilding a projection" section, run with grpcurl exactly as written, in order, against one fresh
 * gateway and a TodoList service whose views are in generations (as `npm start`'s are), by the conventions of
 * documented-commands.ts; then its last command again until the rebuild completed, as the section tells.
 */

const README = process.env.RECQ_README_UNDER_TEST ?? path.join(REPO, "README.md");
const DOC_ADDRESS = "127.0.0.1:50051";

describeWith(GRPCURL)("the README's projection rebuild, verbatim, against the running mesh", () => {
  const blocks = shellBlocks(markdownSection(README, "Rebuilding a projection"));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RebuildableTodo | undefined;
  const commands = new DocumentedCommands({ [DOC_ADDRESS]: () => mesh!.address }, grpcurlEnv);

  beforeAll(async () => {
    data = await tempDir("readme-rebuild");
    mesh = await startGateway(data.dir);
    todo = await startRebuildableTodo(mesh.address);
  });

  afterAll(async () => {
    await todo?.mesh.drain();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  it("runs every grpcurl line of the section, in order, each printing what the README shows; the rebuild completes", async () => {
    const written = blocks.flat().map((step) => step.command);
    for (const rpc of ["ListProjections", "RebuildProjection", "GetProjection"]) {
      assert.ok(written.some((command) => command.includes(`recq.v1.ProjectionAdminService/${rpc}`)), rpc);
    }
    for (const steps of blocks) await commands.runBlock(steps);
    const getProjection = written.at(-1)!.replaceAll(DOC_ADDRESS, mesh!.address);
    await eventually(async () => {
      const { stdout } = await promisify(execFile)("bash", ["-c", getProjection], { env: grpcurlEnv() });
      const answer = JSON.parse(stdout) as { projection: { generation: number; rebuild: { state: string } } };
      assert.equal(answer.projection.rebuild.state, RebuildState[RebuildState.REBUILD_STATE_COMPLETED]);
      assert.equal(answer.projection.generation, 2);
    }, 20_000);
    assert.equal(todo!.views.generation, 2);
  }, 60_000);
});
