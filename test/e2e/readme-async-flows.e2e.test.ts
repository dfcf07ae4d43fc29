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
 * The README's "Asynchronous flows" section, run with grpcurl exactly as written, in order, against one fresh gateway
 * and TodoList service, by the conventions of documented-commands.ts (what a command prints is the comment lines
 * below it; "keeps running" runs it in the background beside the rest of its block).
 */

const README = process.env.RECQ_README_UNDER_TEST ?? path.join(REPO, "README.md");

describeWith(GRPCURL)("the README's asynchronous flows, verbatim, against the running mesh", () => {
  const blocks = shellBlocks(markdownSection(README, "Asynchronous flows"));
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;
  const commands = new DocumentedCommands({ "127.0.0.1:50051": () => mesh!.address }, grpcurlEnv);

  beforeAll(async () => {
    data = await tempDir("readme-async");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  it("shows each of the four flows, with the RPCs the section names", () => {
    const written = blocks.flat().map((step) => step.command).join("\n");
    for (const shown of [
      /-H 'recq-mode: async'/,
      /recq\.v1\.CommandOutcomeService\/WatchOutcome/,
      /recq\.v1\.ReplyChannelService\/Open/,
      /recq\.v1\.ReplyChannelService\/Listen/,
      /-H 'recq-reply-to: /,
      /recq\.v1\.EventService\/SubscribeEvents/,
    ]) {
      assert.match(written, shown);
    }
  });

  it("runs every grpcurl line of the section, in order, each printing what the README shows", async () => {
    assert.ok(blocks.length >= 5, `the section's examples (${blocks.length} blocks)`);
    for (const steps of blocks) await commands.runBlock(steps);
    // The accepted command ran exactly once: the list exists once, with the one item the channel added, completed.
    const history = await mesh!.store.readAggregate("TodoList", "shopping");
    assert.deepEqual(
      history.events.map((event) => event.type),
      ["todo.v1.TodoListCreated", "todo.v1.TodoItemAdded", "todo.v1.TodoItemCompleted"],
    );
  }, 120_000);
});
