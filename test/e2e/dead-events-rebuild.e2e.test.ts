import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "@jest/globals";
import { EmbeddedParkedEventStore } from "@recq-mesh/gateway";
import type { ListParkedEventsResponse } from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { RebuildState } from "@recq-mesh/protocol/gen/recq/v1/projections";
import { ListTodoLists } from "@recq-mesh/todo/gen/todo/v1/queries";
import { auditedPositions, capturingLogger, deadEventClient, type LogLine } from "../support/dead-event-audit";
import { call, eventually, startGateway, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";
import { projectionAdmin, projectionStatus, RebuildGate, startRebuildableTodo, type RebuildableTodo } from "../support/rebuild-harness";

const PROJECTION = "todo-lists";
const REBUILD_KEY = "todo-lists~g2";

/**
 * The dead-event queue across a projection's rebuild, through a real gateway: the TodoList projection in generations
 * (GenerationalViewStore), throwing on an item named "poison" while broken, and recording per list every position it
 * applies in the generation it writes. What the serving generation parked stays its own while a rebuild parks apart;
 * after the switch the consumer's name lists, and retries, the new generation's, and the old generation's are gone.
 */
describe("dead-event queue across a projection rebuild", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let parked: EmbeddedParkedEventStore;
  let gateway: RunningGateway | undefined;
  let todo: RebuildableTodo | undefined;
  let gate: RebuildGate | undefined;
  const lines: LogLine[] = [];

  beforeEach(async () => {
    data = await tempDir("dead-events-rebuild");
    parked = await EmbeddedParkedEventStore.open({ directory: data.dir });
    gateway = await startGateway(data.dir, { parkedEvents: parked, logger: capturingLogger(lines) });
  });

  afterEach(async () => {
    gate?.open();
    await todo?.mesh.drain();
    await gateway?.gateway.stop();
    await data.remove();
  });

  const parkedKeys = async () => (await parked.all()).map((entry) => `${entry.consumer}@${entry.position}`);
  const positionsOf = (answer: ListParkedEventsResponse) => answer.events.map((event) => Number(event.position));

  it("parks apart while rebuilding, serves the new generation's parked events by the consumer's name after the switch, retries them into the new views once each, and deletes the old generation's", async () => {
    const running = gateway!;
    const clients = todoClients(running.address);
    const admin = deadEventClient(running.address);
    const projections = projectionAdmin(running.address);
    try {
      const poison = { broken: true };
      // The seed below takes positions 1–6 of a fresh store; the rebuild's projector is held before position 6.
      gate = new RebuildGate(5);
      todo = await startRebuildableTodo(running.address, { scope: "shared", gate, poison });
      assert.equal(todo.consumer, PROJECTION);
      const create = async (listId: string) => Number((await call(clients.commands, clients.commands.createTodoList, { listId, name: listId })).position);
      const add = async (listId: string, itemId: string, text = itemId) => Number((await call(clients.commands, clients.commands.addTodoItem, { listId, itemId, text })).position);
      const list = (consumer: string) => call(admin, admin.listParkedEvents, { consumer, afterPosition: "0", pageSize: 0 });
      const read = (listId: string, token: number) => call(clients.queries, clients.queries.getTodoList, { listId }, { "recq-consistency-token": String(token) });

      const bad = await create("bad");
      const poisoned = await add("bad", "p", "poison");
      const behind = await add("bad", "x");
      const good = [await create("good"), await add("good", "g1"), await add("good", "g2")];
      assert.deepEqual([bad, poisoned, behind, ...good], [1, 2, 3, 4, 5, 6]);

      // Generation 1 parks the poison event and the one behind it, under the consumer's name.
      const first = await eventually(async () => {
        const answer = await list(PROJECTION);
        assert.deepEqual(positionsOf(answer), [poisoned, behind]);
        return answer;
      }, 10_000);
      assert.equal(first.status?.consumer, PROJECTION);
      assert.equal((await read("good", good[2]!)).itemCount, 2);

      // The rebuild replays into generation 2 and parks the poison event again, under its own key, held before position 6.
      const requested = await call(projections, projections.rebuildProjection, { projection: PROJECTION });
      assert.equal(requested.rebuild?.generation, 2);
      const rebuilding = await eventually(async () => {
        const answer = await list(REBUILD_KEY);
        assert.deepEqual(positionsOf(answer), [poisoned, behind]);
        return answer;
      }, 10_000);
      assert.equal(rebuilding.status?.consumer, REBUILD_KEY);
      assert.match(rebuilding.events[0]!.error, /cannot apply the poison item of list bad/);
      await eventually(async () => assert.deepEqual(gate!.applied.slice(-1), [6]));
      assert.deepEqual(await parkedKeys(), [`${PROJECTION}@${poisoned}`, `${PROJECTION}@${behind}`, `${REBUILD_KEY}@${poisoned}`, `${REBUILD_KEY}@${behind}`]);
      // Meanwhile the serving generation answers its queries, and its parked events are still the name's.
      assert.equal((await projectionStatus(projections, PROJECTION)).rebuild?.state, RebuildState.REBUILD_STATE_RUNNING);
      assert.equal((await read("good", good[2]!)).itemCount, 2);
      assert.equal((await read("bad", behind)).itemCount, 0);
      assert.equal((await call(clients.queries, clients.queries.listTodoLists, ListTodoLists.fromPartial({ pageSize: 10 }))).lists.length, 2);
      assert.equal((await list(PROJECTION)).status?.consumer, PROJECTION);

      // The switch: the consumer's name now lists generation 2's parked events; generation 1's are deleted.
      gate.open();
      await eventually(async () => assert.equal((await projectionStatus(projections, PROJECTION)).rebuild?.state, RebuildState.REBUILD_STATE_COMPLETED), 20_000);
      const switched = await eventually(async () => {
        const answer = await list(PROJECTION);
        assert.equal(answer.status?.consumer, REBUILD_KEY);
        return answer;
      });
      assert.deepEqual(positionsOf(switched), [poisoned, behind]);
      assert.equal(switched.status?.active, true);
      await eventually(async () => assert.deepEqual(await parkedKeys(), [`${REBUILD_KEY}@${poisoned}`, `${REBUILD_KEY}@${behind}`]));
      // Logged once the deletion is durable (the store's entries change before its write completes).
      await eventually(async () => {
        const deleted = lines.find((line) => line.message === "parked events of a projection's older generations deleted: its new generation serves");
        assert.deepEqual(deleted?.fields, { consumer: PROJECTION, generation: 2, keys: [PROJECTION], count: 2 });
      });
      assert.deepEqual(await auditedPositions(todo.views, "bad"), [bad], "generation 2 did not apply the poison event either");

      // The handler is fixed: the retry applies them into generation 2's views, once each, in order.
      poison.broken = false;
      assert.deepEqual(await call(admin, admin.retryParked, { consumer: PROJECTION, aggregateType: "", aggregateId: "" }), { scheduled: 2, waitingForInstance: false });
      await eventually(async () => assert.deepEqual(await auditedPositions(todo!.views, "bad"), [bad, poisoned, behind]), 10_000);
      await eventually(async () => assert.deepEqual(positionsOf(await list(PROJECTION)), []));
      assert.deepEqual((await read("bad", behind)).items.map((item) => item.itemId), ["p", "x"]);
      assert.deepEqual(await auditedPositions(todo.views, "good"), good);
      assert.deepEqual(await parkedKeys(), []);
    } finally {
      clients.close();
      admin.close();
      projections.close();
    }

    // Durably: the store, opened again from its file, holds nothing of either generation.
    await todo!.mesh.drain();
    todo = undefined;
    await running.gateway.stop();
    gateway = undefined;
    const reopened = await EmbeddedParkedEventStore.open({ directory: data.dir });
    try {
      assert.deepEqual(await reopened.all(), []);
    } finally {
      await reopened.close();
    }
  }, 60_000);
});
