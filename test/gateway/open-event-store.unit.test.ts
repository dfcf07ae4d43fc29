import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "@jest/globals";
import { silentLogger } from "@recq-mesh/protocol";
import { loadGatewayConfig, EmbeddedCommandInbox, EmbeddedEventStore, EmbeddedParkedEventStore, openEventStore } from "@recq-mesh/gateway";
import { mongodbDriverLoadedBy } from "../support/mongodb-driver-loaded";

describe("the gateway's choice of store", () => {
  it("opens the embedded store in the data folder without MONGODB_URI, and never loads the MongoDB driver", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "recq-open-store-"));
    try {
      const config = loadGatewayConfig(["--data-dir", dir], {});
      const { store, inbox, parkedEvents, location } = await openEventStore(config, {}, silentLogger);
      assert.ok(store instanceof EmbeddedEventStore);
      assert.ok(inbox instanceof EmbeddedCommandInbox, "the accepted-command inbox sits beside it, in the same folder");
      assert.ok(parkedEvents instanceof EmbeddedParkedEventStore, "so do the dead-event queue's parked events");
      assert.deepEqual(location, { store: "embedded", dataDir: dir });
      await parkedEvents.close();
      await inbox.close();
      await store.close();
      const script = `const g = require("@recq-mesh/gateway"); const { store, inbox, parkedEvents } = await g.openEventStore(g.loadGatewayConfig(["--data-dir", ${JSON.stringify(dir)}], {}), process.env, require("@recq-mesh/protocol").silentLogger); await parkedEvents.close(); await inbox.close(); await store.close();`;
      assert.equal(await mongodbDriverLoadedBy(script), false);
      // The same script with a server that is not there, given up on at once: the driver was loaded to try it.
      assert.equal(await mongodbDriverLoadedBy(script, { MONGODB_URI: "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200" }), true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("bounds the embedded store's cache by RECQ_STORE_CACHE_BYTES", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "recq-open-store-"));
    try {
      const config = loadGatewayConfig(["--data-dir", dir], { RECQ_STORE_CACHE_BYTES: "4096" });
      const { store, inbox, parkedEvents } = await openEventStore(config, {}, silentLogger);
      await parkedEvents.close();
      await inbox.close();
      assert.ok(store instanceof EmbeddedEventStore);
      for (let n = 0; n < 20; n++) {
        const events = [{ type: "test.v1.Happened", payload: Buffer.alloc(1000, n), metadata: {} }];
        assert.equal((await store.append({ aggregateType: "Test", aggregateId: "a", expectedSequence: n, commandId: `c${n}`, events })).kind, "appended");
      }
      const { cachedBytes, cachedRecords } = store.stats();
      assert.ok(cachedBytes <= 4096 && cachedRecords >= 1, `the cache holds ${cachedRecords} records, ${cachedBytes} bytes`);
      assert.equal((await store.readAll(0, 100)).length, 20);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("with MONGODB_URI set, refuses a bad RECQ_MONGODB_DATABASE before connecting", async () => {
    const config = loadGatewayConfig([], {});
    await assert.rejects(openEventStore(config, { MONGODB_URI: "mongodb://127.0.0.1:9", RECQ_MONGODB_DATABASE: "no.dots" }, silentLogger), /RECQ_MONGODB_DATABASE/);
  });

  it("with MONGODB_URI set to a server that does not answer, fails with a message that names the variable, not the URI", async () => {
    const config = loadGatewayConfig([], {});
    const uri = "mongodb://user:secret@127.0.0.1:9/?serverSelectionTimeoutMS=300";
    await assert.rejects(openEventStore(config, { MONGODB_URI: uri }, silentLogger), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /could not connect to MongoDB \(MONGODB_URI\)/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });
});
