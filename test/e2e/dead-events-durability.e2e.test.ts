import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "@jest/globals";
import type { EmbeddedViewStore, MeshService } from "@recq-mesh/kit";
import type { DeadEventServiceClient } from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { AUDIT_CONSUMER, auditedPositions, capturingLogger, deadEventClient, startAudit, type LogLine } from "../support/dead-event-audit";

/** Parked events across a gateway restart (embedded store), and the per-consumer limit at its boundary. */
describe("dead-event queue: restart and limit", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let audit: { mesh: MeshService; views: EmbeddedViewStore };
  let clients: ReturnType<typeof todoClients>;
  let admin: DeadEventServiceClient;
  const handler = { broken: true };
  const gatewayLog: LogLine[] = [];
  const auditLog: LogLine[] = [];

  const add = async (listId: string, itemId: string, text = itemId) => Number((await call(clients.commands, clients.commands.addTodoItem, { listId, itemId, text })).position);
  const create = async (listId: string) => Number((await call(clients.commands, clients.commands.createTodoList, { listId, name: listId })).position);
  const parked = async () => (await call(admin, admin.listParkedEvents, { consumer: AUDIT_CONSUMER, afterPosition: "0", pageSize: 0 })).events.map((event) => Number(event.position));

  async function start(limits: { maxParkedEventsPerConsumer?: number } = {}, port = 0): Promise<void> {
    mesh = await startGateway(data.dir, { port, limits, logger: capturingLogger(gatewayLog) });
    clients = todoClients(mesh.address);
    admin = deadEventClient(mesh.address);
  }

  async function stop(): Promise<void> {
    clients.close();
    admin.close();
    await mesh.gateway.stop();
  }

  beforeEach(async () => {
    handler.broken = true;
    gatewayLog.length = 0;
    auditLog.length = 0;
    data = await tempDir("dead-events-durability");
  });

  afterEach(async () => {
    await audit.mesh.drain();
    await todo.mesh.drain();
    await stop();
    await data.remove();
  });

  it("keeps parked events and blocked aggregates across a gateway restart", async () => {
    await start();
    todo = await startTodo(mesh.address, { roles: ["commands"] });
    audit = await startAudit(mesh.address, handler);
    const created = await create("kept");
    const poison = await add("kept", "p", "poison");
    const behind = await add("kept", "b");
    await eventually(async () => assert.deepEqual(await parked(), [poison, behind]), 10_000);

    const port = mesh.gateway.port;
    await stop();
    await start({}, port);
    assert.deepEqual(await parked(), [poison, behind], "the parked events survived the restart");
    // The services reconnect to the same address; the aggregate is still blocked, so its next event is parked too.
    const later = await eventually(() => add("kept", "l"), 10_000);
    await eventually(async () => assert.deepEqual(await parked(), [poison, behind, later]), 10_000);
    const other = await create("other");
    await eventually(async () => assert.deepEqual(await auditedPositions(audit.views, "other"), [other]), 10_000);
    assert.deepEqual(await auditedPositions(audit.views, "kept"), [created]);

    handler.broken = false;
    await call(admin, admin.retryParked, { consumer: AUDIT_CONSUMER, aggregateType: "TodoList", aggregateId: "kept" });
    await eventually(async () => assert.deepEqual(await auditedPositions(audit.views, "kept"), [created, poison, behind, later]), 10_000);
  });

  it("parks up to RECQ_MAX_PARKED_EVENTS_PER_CONSUMER; one more stops the consumer with RESOURCE_EXHAUSTED and loses nothing", async () => {
    await start({ maxParkedEventsPerConsumer: 2 });
    todo = await startTodo(mesh.address, { roles: ["commands"] });
    audit = await startAudit(mesh.address, handler, capturingLogger(auditLog));
    const created = await create("full");
    const poison = await add("full", "p", "poison");
    const second = await add("full", "s");
    await eventually(async () => assert.deepEqual(await parked(), [poison, second]), 10_000);
    assert.equal(auditLog.filter((line) => line.message === "consumer stream lost; reconnecting").length, 0, "at the limit, the consumer goes on");

    const third = await add("full", "t");
    await eventually(async () => {
      const lost = auditLog.find((line) => line.message === "consumer stream lost; reconnecting");
      assert.match(String(lost?.fields?.error), /RESOURCE_EXHAUSTED.*may hold no more than 2 \(RECQ_MAX_PARKED_EVENTS_PER_CONSUMER\)/);
    }, 10_000);
    assert.ok(gatewayLog.some((line) => line.level === "error" && /may hold no more than 2/.test(String(line.fields?.error))), "the gateway logs why");
    assert.deepEqual(await parked(), [poison, second], "the event past the limit is not parked");
    const otherList = await create("elsewhere");
    assert.deepEqual(await auditedPositions(audit.views, "elsewhere"), [], "the consumer is stopped");

    // Nothing lost: once the parked events are skipped, the one past the limit is handled where it was.
    handler.broken = false;
    await call(admin, admin.skipParked, { consumer: AUDIT_CONSUMER, position: "0", all: true });
    await eventually(async () => assert.deepEqual(await auditedPositions(audit.views, "full"), [created, third]), 15_000);
    await eventually(async () => assert.deepEqual(await auditedPositions(audit.views, "elsewhere"), [otherList]), 15_000);
  });
});
