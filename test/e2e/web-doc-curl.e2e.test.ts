import assert from "node:assert/strict";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { DocumentedCommands } from "../support/documented-commands";
import { markdownSection, shellSteps } from "../support/markdown-commands";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";

/**
 * The curl examples of docs/web.md, run as written, in order, against one gateway with its HTTP port and the
 * TodoList linked (the address 127.0.0.1:8080 replaced by the test gateway's HTTP port). The comment lines right
 * below a command are lines of what it prints, each of which must appear in its output, in that order.
 */

const DOC = path.join(REPO, "docs", "web.md");
const SECTIONS = ["Connect: JSON over HTTP", "GET for queries", "Accepted commands: 202 and a Location", "Server-Sent Events"];
const DOC_ADDRESS = "127.0.0.1:8080";

describe("docs/web.md's curl examples, verbatim, against the running mesh", () => {
  const steps = SECTIONS.flatMap((heading) => shellSteps(markdownSection(DOC, heading)));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;

  beforeAll(async () => {
    data = await tempDir("web-doc");
    mesh = await startGateway(data.dir, { http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 15_000 } });
    todo = await startTodo(mesh.address);
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  it("has an example of each way in: Connect JSON, HTTP/2, GET, 202 + Location, Server-Sent Events resumed", () => {
    const commands = steps.map((step) => step.command).join("\n");
    assert.match(commands, /--http2-prior-knowledge/);
    assert.match(commands, /--get /);
    assert.match(commands, /prefer: respond-async/);
    assert.match(commands, /last-event-id: /);
    assert.match(commands, /\/recq\/v1\/sse\/todo\.v1\.TodoListQueryService\/WatchTodoList/);
  });

  it("each example prints what the document shows", async () => {
    await new DocumentedCommands({ [DOC_ADDRESS]: () => `127.0.0.1:${mesh!.gateway.http!.port}` }, () => process.env).runBlock(steps);
  });
});
