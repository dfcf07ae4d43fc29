import assert from "node:assert/strict";
import { afterEach, describe, test } from "@jest/globals";
import type { AcceptedCommand } from "@recq-mesh/gateway/internal/accepted/accepted-command";
import type { CommandInbox } from "@recq-mesh/gateway/internal/accepted/command-inbox";

/** An inbox under test; `reopen` closes it and opens the same inbox again, as a restart (a crash, for MongoDB: its lease runs out) would. */
export interface InboxUnderTest {
  inbox: CommandInbox;
  reopen(): Promise<CommandInbox>;
  close(): Promise<void>;
}

let counter = 0;

export function acceptedCommand(overrides: Partial<AcceptedCommand> = {}): AcceptedCommand {
  counter += 1;
  return {
    commandId: `command-${counter}`,
    method: "todo.v1.TodoListCommandService/AddTodoItem",
    payload: Buffer.from([10, 4, 108, 105, 115, 116, 18, 1, 120 + (counter % 3)]),
    headers: { "x-tenant": "acme" },
    trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    replyTo: undefined,
    acceptedAtMs: 1_760_000_000_000 + counter,
    ...overrides,
  };
}

/** The contract every CommandInbox adapter keeps. */
export function runCommandInboxContract(name: string, open: () => Promise<InboxUnderTest>): void {
  describe(`CommandInbox contract: ${name}`, () => {
    let current: InboxUnderTest | undefined;
    afterEach(async () => {
      await current?.close();
      current = undefined;
    });

    test("hands out after a reopen every command added and not settled, in acceptance order, with all it was given", async () => {
      current = await open();
      const first = acceptedCommand({ replyTo: "my-channel" });
      const second = acceptedCommand({ headers: {}, trace: {} });
      const settled = acceptedCommand();
      const third = acceptedCommand({ payload: Buffer.alloc(0) });
      for (const command of [first, second, settled, third]) assert.equal(await current.inbox.add(command), "added");
      await current.inbox.settle(settled.commandId);
      assert.deepEqual(await current.inbox.claim(), [], "what this inbox accepted itself is not handed out again");

      const reopened = await current.reopen();
      const claimed = await reopened.claim();
      assert.deepEqual(
        claimed.map((command) => command.commandId),
        [first, second, third].map((command) => command.commandId),
      );
      assert.deepEqual(claimed[0], first);
      assert.deepEqual(claimed[1], second);
      assert.deepEqual({ ...claimed[2], payload: [...claimed[2]!.payload] }, { ...third, payload: [] });
      assert.deepEqual(await reopened.claim(), [], "a claim hands a command out once");
    });

    test("records a command id once: a repeat is 'present', and after a reopen the command is there once", async () => {
      current = await open();
      const command = acceptedCommand();
      assert.equal(await current.inbox.add(command), "added");
      assert.equal(await current.inbox.add({ ...command, payload: Buffer.from("other") }), "present");
      const claimed = await (await current.reopen()).claim();
      assert.deepEqual(claimed, [command]);
    });

    test("settling is idempotent, settling an unknown id does nothing, and a settled command is not handed out again", async () => {
      current = await open();
      const command = acceptedCommand();
      await current.inbox.add(command);
      await current.inbox.settle(command.commandId);
      await current.inbox.settle(command.commandId);
      await current.inbox.settle("never-accepted");
      const reopened = await current.reopen();
      assert.deepEqual(await reopened.claim(), []);
    });

    test("a command settled after a reopen stays settled through the next one", async () => {
      current = await open();
      const kept = acceptedCommand();
      const done = acceptedCommand();
      await current.inbox.add(kept);
      await current.inbox.add(done);
      let inbox = await current.reopen();
      assert.equal((await inbox.claim()).length, 2);
      await inbox.settle(done.commandId);
      inbox = await current.reopen();
      assert.deepEqual(
        (await inbox.claim()).map((command) => command.commandId),
        [kept.commandId],
      );
    });
  });
}
