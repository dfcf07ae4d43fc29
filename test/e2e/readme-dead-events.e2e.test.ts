import assert from "node:assert/strict";
import path from "node:path";
import { afterAll, beforeAll, it } from "@jest/globals";
import { DocumentedCommands, shellBlocks } from "../support/documented-commands";
import { markdownSection } from "../support/markdown-commands";
import { call, eventually } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, grpcurlEnv } from "../support/tools";
import { auditedPositions, startPoisonedMesh, type PoisonedMesh } from "../support/dead-event-audit";

/**
 * The README's "Dead events" section, run with grpcurl exactly as written, in order, against a fresh gateway, the
 * TodoList aggregate, and a projection named `todo-lists` that fails on an item named "poison" (the section says so).
 */

const README = process.env.RECQ_README_UNDER_TEST ?? path.join(REPO, "README.md");
const CONSUMER = "todo-lists";

describeWith(GRPCURL)("the README's dead events, verbatim, against the running mesh", () => {
  const blocks = shellBlocks(markdownSection(README, "Dead events"));
  let running: PoisonedMesh | undefined;
  const commands = new DocumentedCommands({ "127.0.0.1:50051": () => running!.mesh.address }, grpcurlEnv);

  beforeAll(async () => {
    running = await startPoisonedMesh("readme-dead-events", CONSUMER);
  });

  afterAll(async () => {
    await running?.stop();
  });

  it("shows the three admin RPCs", () => {
    const written = blocks.flat().map((step) => step.command).join("\n");
    for (const shown of [/recq\.v1\.DeadEventService\/ListParkedEvents/, /recq\.v1\.DeadEventService\/SkipParked/, /recq\.v1\.DeadEventService\/RetryParked/]) {
      assert.match(written, shown);
    }
  });

  it("runs every grpcurl line of the section, in order, each printing what the README shows", async () => {
    assert.equal(blocks.length, 3, "the section's examples: the events, the list, skip and retry");
    const [events, list, skipAndRetry] = blocks;
    await commands.runBlock(events!);
    // The consumer tries in place before the gateway parks: the list is read once both events are parked.
    const parked = async () => (await call(running!.admin, running!.admin.listParkedEvents, { consumer: CONSUMER, afterPosition: "0", pageSize: 0 })).events.length;
    await eventually(async () => assert.equal(await parked(), 2), 10_000);
    await commands.runBlock(list!);
    await commands.runBlock(skipAndRetry!);
    // The skipped event was never applied; the one behind it was, once, after the retry.
    await eventually(async () => assert.deepEqual(await auditedPositions(running!.audit.views, "chores"), [1, 3]), 10_000);
    assert.equal(await parked(), 0);
  }, 120_000);
});
