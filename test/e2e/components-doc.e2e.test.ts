import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { SagaStateServiceClient, type LoadSagaStateResponse } from "@recq-mesh/protocol/gen/recq/v1/sagas";
import { startProcess, type BackgroundProcess } from "../support/background-process";
import { TODO_MAIN } from "../support/built-packages";
import { auditedPositions, startPoisonedMesh, type PoisonedMesh } from "../support/dead-event-audit";
import { DocumentedCommands, shellBlocks } from "../support/documented-commands";
import { markdownSection, type ShellStep } from "../support/markdown-commands";
import { call, eventually, startGateway, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, grpcurlEnv } from "../support/tools";

/**
 * docs/components.md's shell commands, run with grpcurl exactly as written (by the conventions of
 * documented-commands.ts: the comment lines below a command are what it prints), each section against a fresh
 * gateway on a free port (the document's 127.0.0.1:50051 replaced by its address), after the state the section
 * speaks of has been made. Every ```sh block of the document must belong to a section run here, so a block added
 * elsewhere fails this test until it is run too.
 *
 * The document's path can be given in RECQ_COMPONENTS_DOC_UNDER_TEST, to check that the test fails on a wrong example.
 */

const DOC = process.env.RECQ_COMPONENTS_DOC_UNDER_TEST ?? path.join(REPO, "docs", "components.md");
const DOC_ADDRESS = "127.0.0.1:50051";
const SAGA_SECTION = "Saga";
const DEAD_EVENTS_SECTION = "Events a consumer cannot handle: the dead-event queue";

function sectionBlocks(heading: string): ShellStep[][] {
  return shellBlocks(markdownSection(DOC, heading));
}

describeWith(GRPCURL)("docs/components.md's commands, verbatim, against the running mesh", () => {
  it("has no ```sh block outside the sections this test runs", () => {
    const everyBlock = shellBlocks(readFileSync(DOC, "utf8"));
    const run = [SAGA_SECTION, DEAD_EVENTS_SECTION].flatMap((heading) => sectionBlocks(heading));
    assert.equal(everyBlock.length, run.length, `docs/components.md has ${everyBlock.length} sh blocks; this test runs ${run.length} (those of "${SAGA_SECTION}" and "${DEAD_EVENTS_SECTION}")`);
  });

  describe("the saga's LoadSagaState, after a move made as the TodoList process runs it (npm start)", () => {
    const blocks = sectionBlocks(SAGA_SECTION);
    let data: Awaited<ReturnType<typeof tempDir>> | undefined;
    let mesh: RunningGateway | undefined;
    let todo: BackgroundProcess | undefined;
    const commands = new DocumentedCommands({ [DOC_ADDRESS]: () => mesh!.address }, grpcurlEnv);

    beforeAll(async () => {
      data = await tempDir("components-doc-saga");
      mesh = await startGateway(path.join(data.dir, "gateway"));
      // The TodoList service's own process: its aggregate, projection, and the item-transfer saga beside them.
      todo = await startProcess(process.execPath, [TODO_MAIN], {
        env: {
          ...process.env,
          MONGODB_URI: "",
          RECQ_GATEWAY: mesh.address,
          TODO_CHECKPOINT_DIR: path.join(data.dir, "checkpoints"),
          RECQ_BLOB_DIR: path.join(data.dir, "blobs"),
        },
        ready: /todo service linked/,
      });
    }, 60_000);

    afterAll(async () => {
      await todo?.stop();
      await mesh?.gateway.stop();
      await data?.remove();
    });

    function loadState(association: string): Promise<LoadSagaStateResponse> {
      const client = new SagaStateServiceClient(mesh!.address, credentials.createInsecure());
      return new Promise((resolve, reject) =>
        client.loadSagaState({ saga: "item-transfer", association, credentials: "" }, (error, answer) => {
          client.close();
          if (error) reject(error);
          else resolve(answer);
        }),
      );
    }

    it("loads the ended instance groceries@3, printing what the section shows", async () => {
      assert.equal(blocks.length, 1, "the section's example: LoadSagaState");
      // groceries: created (sequence 1), an item added (2), its move to pantry requested (3): the instance groceries@3.
      const clients = todoClients(mesh!.address);
      try {
        await call(clients.commands, clients.commands.createTodoList, { listId: "groceries", name: "Groceries" });
        await call(clients.commands, clients.commands.addTodoItem, { listId: "groceries", itemId: "milk", text: "Milk" });
        await call(clients.commands, clients.commands.createTodoList, { listId: "pantry", name: "Pantry" });
        await call(clients.commands, clients.commands.requestTodoItemTransfer, { listId: "groceries", itemId: "milk", targetListId: "pantry" });
      } finally {
        clients.close();
      }
      await eventually(async () => assert.equal((await loadState("groceries@3")).ended, true), 15_000);
      await commands.runBlock(blocks[0]!);
      // The move the instance made: the item left groceries and is in pantry.
      const types = async (listId: string) => (await mesh!.store.readAggregate("TodoList", listId)).events.map((event) => event.type);
      assert.equal((await types("groceries")).at(-1), "todo.v1.TodoItemTransferred");
      assert.equal((await types("pantry")).at(-1), "todo.v1.TodoItemAdded");
    }, 60_000);
  });

  describe("the dead-event queue's admin calls, on a projection todo-lists that throws on an item named poison", () => {
    const blocks = sectionBlocks(DEAD_EVENTS_SECTION);
    const CONSUMER = "todo-lists";
    let running: PoisonedMesh | undefined;
    const commands = new DocumentedCommands({ [DOC_ADDRESS]: () => running!.mesh.address }, grpcurlEnv);

    beforeAll(async () => {
      running = await startPoisonedMesh("components-doc-dead-events", CONSUMER);
    });

    afterAll(async () => {
      await running?.stop();
    });

    const parked = async () => (await call(running!.admin, running!.admin.listParkedEvents, { consumer: CONSUMER, afterPosition: "0", pageSize: 0 })).events;
    const attemptsAt = async (position: string) => (await parked()).find((event) => event.position === position)?.attempts ?? 0;

    it("lists, retries and skips as the section shows", async () => {
      assert.equal(blocks.length, 1, "the section's example: the three admin calls");
      const [list, retry, skip] = blocks[0]!;
      assert.ok(list && retry && skip && blocks[0]!.length === 3, "list, retry, skip");
      // chores: created (position 1), the poison item (2: it throws), another item (3: parked behind it).
      const clients = todoClients(running!.mesh.address);
      try {
        await call(clients.commands, clients.commands.createTodoList, { listId: "chores", name: "Chores" });
        await call(clients.commands, clients.commands.addTodoItem, { listId: "chores", itemId: "p", text: "poison" });
        await call(clients.commands, clients.commands.addTodoItem, { listId: "chores", itemId: "dust", text: "Dust" });
      } finally {
        clients.close();
      }
      await eventually(async () => assert.deepEqual((await parked()).map((event) => event.position), ["2", "3"]), 10_000);

      await commands.runStep(list);
      // The handler is not fixed: the retried head fails again and stays parked, its attempts counted, its chain blocked.
      const before = await attemptsAt("2");
      await commands.runStep(retry);
      await eventually(async () => assert.ok((await attemptsAt("2")) > before, "the retried event failed again"), 10_000);
      await commands.runStep(skip);
      // The skipped head was never applied, and the event behind it stays parked (to be retried or skipped too).
      assert.deepEqual((await parked()).map((event) => event.position), ["3"]);
      assert.deepEqual(await auditedPositions(running!.audit.views, "chores"), [1]);
    }, 60_000);
  });
});
