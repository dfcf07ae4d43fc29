import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, test } from "@jest/globals";
import { EmbeddedCommandInbox, INBOX_FILE_NAME, INBOX_MAGIC } from "@recq-mesh/gateway/internal/accepted/embedded-command-inbox";
import { JournalCorruptionError } from "@recq-mesh/gateway/internal/store/journal-replay";
import { acceptedCommand, runCommandInboxContract } from "./command-inbox.suite";

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "recq-inbox-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let directories = 0;
function freshDirectory(): string {
  directories += 1;
  return path.join(scratch, `inbox-${directories}`);
}

const warnings: string[] = [];
const logger = { warn: (message: string) => void warnings.push(message), error: (message: string) => void warnings.push(message) };

runCommandInboxContract("embedded", async () => {
  const directory = freshDirectory();
  let inbox = await EmbeddedCommandInbox.open({ directory });
  return {
    get inbox() {
      return inbox;
    },
    reopen: async () => {
      await inbox.close();
      inbox = await EmbeddedCommandInbox.open({ directory });
      return inbox;
    },
    close: () => inbox.close(),
  };
});

describe("the embedded inbox's file", () => {
  test("a torn last record (a crash mid-write) is cut off with a warning; the commands before it are kept", async () => {
    const directory = freshDirectory();
    const inbox = await EmbeddedCommandInbox.open({ directory });
    const kept = acceptedCommand();
    await inbox.add(kept);
    await inbox.close();
    const file = path.join(directory, INBOX_FILE_NAME);
    const intact = (await stat(file)).size;
    // The start of a record whose body never made it to the disk.
    await appendFile(file, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 1, 9]));
    warnings.length = 0;
    const reopened = await EmbeddedCommandInbox.open({ directory, logger });
    try {
      assert.deepEqual(await reopened.claim(), [kept]);
      assert.equal((await stat(file)).size, intact, "the torn tail was cut off");
      assert.match(warnings.join("\n"), /torn write/);
      const later = acceptedCommand();
      await reopened.add(later);
    } finally {
      await reopened.close();
    }
    const again = await EmbeddedCommandInbox.open({ directory });
    assert.equal((await again.claim()).length, 2, "what was added after the cut is read back");
    await again.close();
  });

  test("damage inside the file, not at its end, refuses to open rather than lose commands", async () => {
    const directory = freshDirectory();
    const inbox = await EmbeddedCommandInbox.open({ directory, maxWriteBytes: 1024 });
    for (let index = 0; index < 40; index++) await inbox.add(acceptedCommand());
    await inbox.close();
    const file = path.join(directory, INBOX_FILE_NAME);
    const bytes = await readFile(file);
    bytes[INBOX_MAGIC.length + 20] ^= 0xff;
    await writeFile(file, bytes);
    await assert.rejects(EmbeddedCommandInbox.open({ directory, maxWriteBytes: 1024 }), JournalCorruptionError);
  });

  test("compacts: once settled records outweigh the waiting ones the file shrinks, and a reopen finds the same waiting commands", async () => {
    const directory = freshDirectory();
    const compactAfterBytes = 4096;
    let inbox = await EmbeddedCommandInbox.open({ directory, compactAfterBytes });
    const waiting = [acceptedCommand(), acceptedCommand()];
    for (const command of waiting) await inbox.add(command);
    let largest = 0;
    for (let round = 0; round < 200; round++) {
      const command = acceptedCommand({ payload: Buffer.alloc(100, round) });
      await inbox.add(command);
      await inbox.settle(command.commandId);
      largest = Math.max(largest, inbox.stats().fileBytes);
    }
    // Settle writes, then compaction: let it finish before reading the size.
    await inbox.close();
    const size = (await stat(path.join(directory, INBOX_FILE_NAME))).size;
    assert.ok(largest <= 2 * compactAfterBytes + 1024, `the file grew to ${largest} bytes; compaction keeps it near ${compactAfterBytes}`);
    assert.ok(size < compactAfterBytes * 2, `${size} bytes left`);
    inbox = await EmbeddedCommandInbox.open({ directory, compactAfterBytes });
    assert.deepEqual(await inbox.claim(), waiting);
    await inbox.close();
  });

  test("compacts while commands keep arriving and settling: nothing accepted meanwhile is lost, nothing settled comes back", async () => {
    const directory = freshDirectory();
    let inbox = await EmbeddedCommandInbox.open({ directory, compactAfterBytes: 2048 });
    const kept: string[] = [];
    const writes: Promise<unknown>[] = [];
    for (let round = 0; round < 300; round++) {
      const command = acceptedCommand({ payload: Buffer.alloc(64, round) });
      const added = inbox.add(command);
      if (round % 7 === 0) {
        kept.push(command.commandId);
        writes.push(added);
      } else {
        writes.push(added.then(() => inbox.settle(command.commandId)));
      }
      // Let some turns pass now and then, so that compactions start between the writes.
      if (round % 25 === 0) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await inbox.close();
    inbox = await EmbeddedCommandInbox.open({ directory });
    assert.deepEqual(
      (await inbox.claim()).map((command) => command.commandId),
      kept,
    );
    await inbox.close();
  });

  test("a compaction cut short by a crash (its new file left half-written) is dropped on open; the inbox is whole", async () => {
    const directory = freshDirectory();
    const inbox = await EmbeddedCommandInbox.open({ directory });
    const kept = acceptedCommand();
    await inbox.add(kept);
    await inbox.close();
    await writeFile(path.join(directory, `${INBOX_FILE_NAME}.compacting`), INBOX_MAGIC.subarray(0, 5));
    const reopened = await EmbeddedCommandInbox.open({ directory });
    assert.deepEqual(await reopened.claim(), [kept]);
    await reopened.close();
    await assert.rejects(stat(path.join(directory, `${INBOX_FILE_NAME}.compacting`)));
  });

  test("a second open of the same folder in one process is refused: one writer per inbox", async () => {
    const directory = freshDirectory();
    const inbox = await EmbeddedCommandInbox.open({ directory });
    await assert.rejects(EmbeddedCommandInbox.open({ directory }), /already open/);
    await inbox.close();
  });
});
