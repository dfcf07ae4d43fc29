import assert from "node:assert/strict";
import { appendFile, stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, test } from "@jest/globals";
import { EmbeddedParkedEventStore, PARKED_FILE_NAME } from "@recq-mesh/gateway/internal/consumers/dead-events/embedded-parked-event-store";
import { tempDir } from "../support/mesh-harness";
import { parkedEntry, runParkedEventStoreContract } from "./parked-event-store.suite";

const folders: { remove(): Promise<void> }[] = [];
afterAll(async () => {
  for (const folder of folders) await folder.remove();
});

runParkedEventStoreContract("embedded", async () => {
  const folder = await tempDir("parked");
  folders.push(folder);
  let store = await EmbeddedParkedEventStore.open({ directory: folder.dir });
  return {
    get store() {
      return store;
    },
    reopen: async () => {
      await store.close();
      store = await EmbeddedParkedEventStore.open({ directory: folder.dir });
      return store;
    },
    close: () => store.close(),
  };
});

describe("EmbeddedParkedEventStore", () => {
  test("cuts off a torn last write, as a crash mid-write leaves it, and keeps what came before", async () => {
    const folder = await tempDir("parked-torn");
    folders.push(folder);
    const store = await EmbeddedParkedEventStore.open({ directory: folder.dir });
    await store.park([parkedEntry(1)]);
    await store.close();
    const file = path.join(folder.dir, PARKED_FILE_NAME);
    const whole = (await stat(file)).size;
    await appendFile(file, Buffer.from([40, 0, 0, 0, 1, 2, 3]));
    const reopened = await EmbeddedParkedEventStore.open({ directory: folder.dir });
    assert.deepEqual(await reopened.all(), [parkedEntry(1)]);
    assert.equal((await stat(file)).size, whole);
    await reopened.close();
  });

  test("compacts the file once removed entries make up most of it, and keeps the held ones", async () => {
    const folder = await tempDir("parked-compact");
    folders.push(folder);
    const store = await EmbeddedParkedEventStore.open({ directory: folder.dir, compactAfterBytes: 2_000 });
    for (let position = 1; position <= 40; position += 1) {
      await store.park([parkedEntry(position)]);
      if (position % 10 !== 0) await store.remove("todo-lists", [position]);
    }
    const file = path.join(folder.dir, PARKED_FILE_NAME);
    assert.ok((await stat(file)).size < 2_000, `compacted to ${(await stat(file)).size} bytes`);
    await store.close();
    const reopened = await EmbeddedParkedEventStore.open({ directory: folder.dir });
    assert.deepEqual(await reopened.all(), [10, 20, 30, 40].map((position) => parkedEntry(position)));
    await reopened.close();
  });
});
