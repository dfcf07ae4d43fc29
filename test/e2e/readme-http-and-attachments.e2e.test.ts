import assert from "node:assert/strict";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { FolderBlobStore, MeshService } from "@recq-mesh/kit";
import { DEFAULT_MAX_ATTACHMENT_BYTES } from "@recq-mesh/todo";
import { DocumentedCommands, shellBlocks } from "../support/documented-commands";
import { markdownSection } from "../support/markdown-commands";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo, startTodoWithAttachments } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, grpcurlEnv } from "../support/tools";

/**
 * The README's "Calling it over HTTP: curl and browsers" (curl, against the gateway's HTTP port) and "Large data:
 * file attachments" (grpcurl), each run as written, in order, against a fresh gateway of its own as the README says,
 * by the conventions of documented-commands.ts.
 */

const README = process.env.RECQ_README_UNDER_TEST ?? path.join(REPO, "README.md");

describe("the README's HTTP examples, verbatim, against the gateway's HTTP port", () => {
  const blocks = shellBlocks(markdownSection(README, "Calling it over HTTP: curl and browsers"));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;
  const commands = new DocumentedCommands({ "127.0.0.1:8080": () => `127.0.0.1:${mesh!.gateway.http!.port}` }, () => process.env);

  beforeAll(async () => {
    data = await tempDir("readme-http");
    mesh = await startGateway(data.dir, { http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 15_000, page: true } });
    todo = await startTodo(mesh.address);
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  it("shows Connect JSON, a refusal with its reason, GET, 202 + Location and Server-Sent Events", () => {
    const written = blocks.flat().map((step) => step.command).join("\n");
    for (const shown of [/^curl .*CommandService\/CreateTodoList$/m, /--get /, /prefer: respond-async/, /\/recq\/v1\/outcomes\//, /\/recq\/v1\/sse\//]) {
      assert.match(written, shown);
    }
  });

  it("runs every curl line of the section, in order, each printing what the README shows", async () => {
    for (const steps of blocks) await commands.runBlock(steps);
    assert.equal((await fetch(`http://127.0.0.1:${mesh!.gateway.http!.port}/`)).status, 200, "the page the README points to");
  }, 60_000);
});

describeWith(GRPCURL)("the README's attachment examples, verbatim, against the running mesh", () => {
  const blocks = shellBlocks(markdownSection(README, "Large data: file attachments"));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let blobDir: Awaited<ReturnType<typeof tempDir>> | undefined;
  let running: RunningGateway | undefined;
  let mesh: MeshService | undefined;
  const commands = new DocumentedCommands({ "127.0.0.1:50051": () => running!.address, "127.0.0.1:8080": () => `127.0.0.1:${running!.gateway.http!.port}` }, grpcurlEnv);

  beforeAll(async () => {
    data = await tempDir("readme-attachments");
    blobDir = await tempDir("readme-attachments-blobs");
    running = await startGateway(data.dir, { http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 15_000 } });
    const blobs = await FolderBlobStore.open(blobDir.dir);
    mesh = await startTodoWithAttachments(running.address, blobs, { maxAttachmentBytes: DEFAULT_MAX_ATTACHMENT_BYTES, downloadChunkBytes: 256 * 1024 });
  });

  afterAll(async () => {
    mesh?.close();
    await running?.gateway.stop();
    await data?.remove();
    await blobDir?.remove();
  });

  it("uploads a file in chunks with grpcurl, finds it on the item, and downloads it with curl, as the README shows", async () => {
    const written = blocks.flat().map((step) => step.command).join("\n");
    assert.match(written, /\| grpcurl -plaintext -d @ .*AttachFile$/m);
    assert.match(written, /^curl .*DownloadAttachment$/m);
    assert.match(written, /curl .*\/recq\/v1\/upload\//);
    for (const steps of blocks) await commands.runBlock(steps);
    const history = await running!.store.readAggregate("TodoList", "trip");
    assert.equal(history.events.at(-1)?.type, "todo.v1.TodoItemFileAttached");
  }, 60_000);
});
