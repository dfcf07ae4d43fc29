import assert from "node:assert/strict";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { call, tempDir, todoClients } from "../support/mesh-harness";
import { freePort } from "../support/free-port";
import { startProcess, type BackgroundProcess } from "../support/background-process";

/** What `npm start` runs once it has built: the mesh of the README's first command, on ports and folders of its own. */
const START_SCRIPT = path.resolve(__dirname, "..", "..", "dist", "scripts", "start.js");

describe("npm start's mesh (the start script)", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let started: BackgroundProcess;
  let address: string;
  let httpAddress: string;

  beforeAll(async () => {
    data = await tempDir("start-script");
    address = `127.0.0.1:${await freePort()}`;
    httpAddress = `127.0.0.1:${await freePort()}`;
    const env = {
      ...process.env,
      MONGODB_URI: "",
      RECQ_ADDRESS: address,
      RECQ_HTTP_ADDRESS: httpAddress,
      RECQ_DATA_DIR: path.join(data.dir, "gateway"),
      TODO_CHECKPOINT_DIR: path.join(data.dir, "todo-checkpoints"),
    };
    started = await startProcess(process.execPath, [START_SCRIPT], { cwd: data.dir, env, ready: /Ctrl-C stops it\./ });
  });

  afterAll(async () => {
    await started?.stop();
    await data.remove();
  });

  it("serves the TodoList on its gRPC and HTTP ports, and stops both processes on a SIGINT to it alone", async () => {
    assert.match(started.output(), new RegExp(`RECQ Mesh is running on ${address.replace(/\./g, "\\.")} \\(embedded store`));
    const clients = todoClients(address);
    try {
      const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "started", name: "Started" });
      assert.equal(ack.sequence, "1");
    } finally {
      clients.close();
    }
    const page = await fetch(`http://${httpAddress}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);

    // A signal to the start script's process only (a process manager's), not its group as a terminal's Ctrl-C.
    started.child.kill("SIGINT");
    assert.equal(await started.exited, 0);
    // Both processes it started have stopped gracefully: each said so before the script exited.
    assert.match(started.output(), /"message":"gateway stopped"/);
    assert.match(started.output(), /"component":"todo","message":"draining"/);
  });
});
