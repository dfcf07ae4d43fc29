import assert from "node:assert/strict";
import path from "node:path";
import { afterAll, beforeAll, it } from "@jest/globals";
import { FolderBlobStore, MeshService } from "@recq-mesh/kit";
import { DEFAULT_MAX_ATTACHMENT_BYTES } from "@recq-mesh/todo";
import { markdownSection, shellSteps } from "../support/markdown-commands";
import { startGateway, tempDir, type RunningGateway, startTodoWithAttachments } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, grpcurlEnv } from "../support/tools";
import { DocumentedCommands } from "../support/documented-commands";

/**
 * The grpcurl examples of docs/large-data.md's "Try it", run as written, in order, against one gateway with the
 * TodoList linked (its attachments in a temp folder; the address 127.0.0.1:50051 replaced by the test gateway's). The
 * comment lines right below a command are lines of what it prints, each of which must appear in its output, in that
 * order; a command that shows `ERROR:` must fail, every other one must succeed.
 */

const DOC = path.join(REPO, "docs", "large-data.md");
const DOC_ADDRESS = "127.0.0.1:50051";

describeWith(GRPCURL)("docs/large-data.md's grpcurl examples, verbatim, against the running mesh", () => {
  const steps = shellSteps(markdownSection(DOC, "Try it"));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let blobDir: Awaited<ReturnType<typeof tempDir>> | undefined;
  let running: RunningGateway | undefined;
  let mesh: MeshService | undefined;

  beforeAll(async () => {
    data = await tempDir("large-grpcurl");
    blobDir = await tempDir("large-grpcurl-blobs");
    running = await startGateway(data.dir);
    const blobs = await FolderBlobStore.open(blobDir.dir);
    mesh = await startTodoWithAttachments(running.address, blobs, { maxAttachmentBytes: DEFAULT_MAX_ATTACHMENT_BYTES, downloadChunkBytes: 256 * 1024 });
  });

  afterAll(async () => {
    mesh?.close();
    await running?.gateway.stop();
    await running?.store.close();
    await data?.remove();
    await blobDir?.remove();
  });

  it("has an upload (grpcurl -d @ with several messages) and a download", () => {
    const commands = steps.map((step) => step.command).join("\n");
    assert.match(commands, /\| grpcurl -plaintext -d @ 127\.0\.0\.1:50051 todo\.v1\.TodoAttachmentCommandService\/AttachFile/);
    assert.match(commands, /todo\.v1\.TodoAttachmentQueryService\/DownloadAttachment/);
  });

  it("each example prints what the document shows", async () => {
    await new DocumentedCommands({ [DOC_ADDRESS]: () => running!.address }, grpcurlEnv).runBlock(steps);
  });
});
