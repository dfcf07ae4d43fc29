import assert from "node:assert/strict";
import os from "node:os";
import { afterAll, describe, it } from "@jest/globals";
import type { MongoClient } from "mongodb";
import { Gateway } from "@recq-mesh/gateway";
import { MongoCommandInbox } from "@recq-mesh/gateway/internal/accepted/mongo-command-inbox";
import { INBOX_COLLECTION } from "@recq-mesh/gateway/internal/accepted/mongo-inbox-documents";
import { MongoEventStore } from "@recq-mesh/gateway/internal/store/mongo-event-store";
import type { MeshService } from "@recq-mesh/kit";
import { OutcomeState } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import { AddTodoItem } from "@recq-mesh/todo/gen/todo/v1/commands";
import { spawnGateway } from "../support/gateway-process";
import { eventClient, eventsReceived, subscribeEvents } from "../support/event-subscriber";
import { eventually, startTodo, testCatalog, todoClients } from "../support/mesh-harness";
import { MONGODB_URI, mongoTestsEnabled, MongoTestServer, type TestDatabase } from "../support/mongo";
import { getOutcome, outcomeClient, sendAccepted, watchOutcome } from "../support/outcome-client";
import { OpenChannel, packed } from "../support/reply-channel-client";

/**
 * The asynchronous flows on the MongoDB store: accepted commands (and their inbox) across a kill -9 of a gateway
 * process, outcomes by id, a reply-to stream, and a client's event subscription resumed from a position. The
 * embedded store runs the same flows in accepted-commands, accepted-crash, reply-channels and event-subscriptions.
 * Needs a replica set (transactions, majority writes, change streams); a single-node one will do.
 */
if (mongoTestsEnabled("asynchronous flows on MongoDB")) {
  const server = new MongoTestServer();
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const database of databases) await database.drop();
    await server.close();
  });

  async function freshDatabase(prefix: string): Promise<{ name: string; client: MongoClient }> {
    const database = await server.freshDatabase(prefix);
    databases.push(database);
    return { name: database.name, client: await server.client() };
  }

  describe("asynchronous flows on MongoDB, through an in-process gateway", () => {
    it("accepts, runs in order per aggregate, answers outcomes, serves a reply-to stream and a resumable event subscription", async () => {
      const { name, client } = await freshDatabase("flows");
      const store = await MongoEventStore.open({ client, database: name });
      const inbox = await MongoCommandInbox.open({ client, database: name });
      const gateway = await Gateway.start({ address: "127.0.0.1:0", catalog: testCatalog(), store, inbox, limits: { shutdownGraceMs: 500 } });
      const address = `127.0.0.1:${gateway.port}`;
      const todo = await startTodo(address);
      const { commands, close } = todoClients(address);
      const outcomes = outcomeClient(address);
      const channel = new OpenChannel(address);
      const events = eventClient(address);
      try {
        // Accepted: answered at once, run in acceptance order, each outcome final.
        await sendAccepted(commands, commands.createTodoList, { listId: "m1", name: "M1" }, { "recq-command-id": "m1-create" });
        for (let index = 0; index < 10; index++) {
          await sendAccepted(commands, commands.addTodoItem, { listId: "m1", itemId: `i${index}`, text: "x" }, { "recq-command-id": `m1-add-${index}` });
        }
        const watch = watchOutcome(outcomes, "m1-add-9");
        assert.equal(await watch.ended, undefined, "the watch ends OK after the final outcome");
        assert.equal(watch.outcomes.at(-1)?.state, OutcomeState.OUTCOME_STATE_SUCCEEDED);
        const history = await store.readAggregate("TodoList", "m1");
        assert.deepEqual(history.events.map((event) => event.commandId), ["m1-create", ...Array.from({ length: 10 }, (_, index) => `m1-add-${index}`)]);
        assert.equal((await getOutcome(outcomes, "m1-create")).state, OutcomeState.OUTCOME_STATE_SUCCEEDED);
        assert.equal((await getOutcome(outcomes, "never-sent")).state, OutcomeState.OUTCOME_STATE_UNKNOWN);

        // A reply-to stream: commands answered by id.
        for (let index = 0; index < 20; index++) {
          channel.send({ id: `r${index}`, method: "todo.v1.TodoListCommandService/AddTodoItem", payload: packed("todo.v1.AddTodoItem", AddTodoItem, AddTodoItem.fromPartial({ listId: "m1", itemId: `r${index}`, text: "r" })) });
        }
        await channel.answered(20);
        for (let index = 0; index < 20; index++) {
          const answer = await channel.answerTo(`r${index}`);
          assert.equal(answer.result?.$case, "answer", JSON.stringify(answer.result));
          assert.ok(Number(CommandAck.decode(answer.result.value.value).position) > 0);
        }

        // An event subscription, cut off midway and resumed from the last position seen: every event once.
        const head = await store.headPosition();
        const first = subscribeEvents(events, { afterPosition: "0" });
        await eventsReceived(first, 10);
        first.cancel();
        const resumed = subscribeEvents(events, { afterPosition: String(first.lastSeen) });
        await eventually(async () => assert.ok(resumed.caughtUp, "caught up"), 10_000);
        const seen = [...first.events, ...resumed.events].map((event) => Number(event.position));
        assert.deepEqual(seen, Array.from({ length: head }, (_, index) => index + 1), "every event once, in order");
        resumed.cancel();
      } finally {
        channel.close();
        close();
        outcomes.close();
        events.close();
        todo.mesh.close();
        await gateway.stop();
      }
    }, 60_000);
  });

  describe("accepted commands across kill -9 of a gateway process on MongoDB", () => {


    it("runs every command accepted before the kill exactly once after the restart, in order per aggregate", async () => {
      const { name, client } = await freshDatabase("crash");
      // Named, so that the restart takes its commands back at once; the data folder is not used on MongoDB.
      const env = { MONGODB_URI, RECQ_MONGODB_DATABASE: name, RECQ_GATEWAY_ID: "gateway-under-test" };
      let gateway = await spawnGateway(os.tmpdir(), 0, env);
      let todo: MeshService | undefined;
      try {
        // No handler linked: every accepted command waits in the inbox.
        const clients = todoClients(`127.0.0.1:${gateway.port}`);
        const accepted: string[] = [];
        await sendAccepted(clients.commands, clients.commands.createTodoList, { listId: "k", name: "K" }, { "recq-command-id": "k-create" });
        for (let index = 0; index < 15; index++) {
          await sendAccepted(clients.commands, clients.commands.addTodoItem, { listId: "k", itemId: `i${index}`, text: "x" }, { "recq-command-id": `k-add-${index}` });
          accepted.push(`k-add-${index}`);
        }
        clients.close();
        gateway.child.kill("SIGKILL");
        await gateway.exited;

        gateway = await spawnGateway(os.tmpdir(), gateway.port, env);
        todo = (await startTodo(`127.0.0.1:${gateway.port}`, { roles: ["commands"] })).mesh;
        const outcomes = outcomeClient(`127.0.0.1:${gateway.port}`);
        try {
          // Well within the 30 s lease: the named gateway took its commands back at start.
          await eventually(async () => assert.equal((await getOutcome(outcomes, "k-add-14")).state, OutcomeState.OUTCOME_STATE_SUCCEEDED), 15_000);
        } finally {
          outcomes.close();
        }
        const reader = await MongoEventStore.open({ client, database: name });
        try {
          const history = await reader.readAggregate("TodoList", "k");
          assert.deepEqual(history.events.map((event) => event.commandId), ["k-create", ...accepted], "each once, in acceptance order");
        } finally {
          await reader.close();
        }
        await eventually(async () => assert.equal(await client.db(name).collection(INBOX_COLLECTION).countDocuments(), 0, "the inbox is empty"), 10_000);
      } finally {
        todo?.close();
        gateway.child.kill("SIGKILL");
        await gateway.exited;
      }
    }, 90_000);
  });
}
