import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { EmbeddedViewStore, MeshService } from "@recq-mesh/kit";
import type { DeadEventServiceClient, ListParkedEventsResponse } from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { call, eventually, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { AUDIT_CONSUMER, auditProjection, auditedPositions, capturingLogger, deadEventClient, startAudit, type LogLine } from "../support/dead-event-audit";

/**
 * The dead-event queue through a real gateway: the TodoList aggregate in one service, an audit projection (it
 * records every position it applies, per list, and throws on an item named "poison" while broken) in another.
 */
describe("dead-event queue", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let audit: { mesh: MeshService; views: EmbeddedViewStore };
  let clients: ReturnType<typeof todoClients>;
  let admin: DeadEventServiceClient;
  const handler = { broken: true };

  const add = async (listId: string, itemId: string, text = itemId) => Number((await call(clients.commands, clients.commands.addTodoItem, { listId, itemId, text })).position);
  const create = async (listId: string) => Number((await call(clients.commands, clients.commands.createTodoList, { listId, name: listId })).position);
  const list = (consumer = AUDIT_CONSUMER) => call(admin, admin.listParkedEvents, { consumer, afterPosition: "0", pageSize: 0 });
  const parkedPositions = (answer: ListParkedEventsResponse) => answer.events.map((event) => Number(event.position));

  beforeAll(async () => {
    data = await tempDir("dead-events");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address, { roles: ["commands"] });
    audit = await startAudit(mesh.address, handler);
    clients = todoClients(mesh.address);
    admin = deadEventClient(mesh.address);
  });

  afterAll(async () => {
    clients.close();
    admin.close();
    await audit.mesh.drain();
    await todo.mesh.drain();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("parks a poison event after its tries, parks the later events of its aggregate behind it, and lets the other aggregates move on", async () => {
    handler.broken = true;
    const good = [await create("good")];
    const bad = [await create("bad")];
    const poison = await add("bad", "p", "poison");
    const behind = [await add("bad", "x"), await add("bad", "y")];
    good.push(await add("good", "g1"), await add("good", "g2"));

    await eventually(async () => assert.deepEqual(await auditedPositions(audit.views, "good"), good), 10_000);
    const answer = await eventually(async () => {
      const listed = await list();
      assert.deepEqual(parkedPositions(listed), [poison, ...behind]);
      return listed;
    }, 10_000);
    const [head, ...rest] = answer.events;
    assert.equal(head!.aggregateType, "TodoList");
    assert.equal(head!.aggregateId, "bad");
    assert.equal(head!.eventType, "todo.v1.TodoItemAdded");
    assert.equal(head!.attempts, 3);
    assert.match(head!.error, /cannot apply the poison item of list bad/);
    assert.equal(head!.waitingBehind, false);
    assert.ok(head!.parkedTime instanceof Date);
    assert.deepEqual(rest.map((event) => [event.waitingBehind, event.attempts, event.error]), [[true, 0, ""], [true, 0, ""]]);
    assert.equal(answer.status?.parkedCount, 3);
    assert.equal(answer.status?.active, true);
    // Its position passed the parked events (the checkpoint moved past them), its lag counts them.
    await eventually(async () => {
      const status = (await list()).status!;
      assert.equal(Number(status.position), Number(status.headPosition));
      assert.equal(status.lag, "3");
    });
    assert.deepEqual(await auditedPositions(audit.views, "bad"), bad, "nothing after the poison event was applied to its list");
    const later = await add("bad", "z");
    await eventually(async () => assert.deepEqual(parkedPositions(await list()), [poison, ...behind, later]), 10_000);
    assert.deepEqual(await auditedPositions(audit.views, "bad"), bad, "a later event waits behind them, unapplied");

    // The handler is fixed; the chain is retried, in order, each event once; then the aggregate's events flow again.
    handler.broken = false;
    const retried = await call(admin, admin.retryParked, { consumer: AUDIT_CONSUMER, aggregateType: "TodoList", aggregateId: "bad" });
    assert.deepEqual(retried, { scheduled: 4, waitingForInstance: false });
    await eventually(async () => assert.deepEqual(await auditedPositions(audit.views, "bad"), [...bad, poison, ...behind, later]), 10_000);
    await eventually(async () => assert.deepEqual(parkedPositions(await list()), []));
    const flowing = await add("bad", "after");
    await eventually(async () => assert.deepEqual(await auditedPositions(audit.views, "bad"), [...bad, poison, ...behind, later, flowing]));
    assert.equal((await list()).status?.parkedCount, 0);
  });

  it("skips a parked event without handling it; the rest of its chain stays parked until skipped too, then the aggregate flows", async () => {
    handler.broken = true;
    const created = await create("skipped");
    const poison = await add("skipped", "p", "poison");
    const next = await add("skipped", "n");
    await eventually(async () => assert.deepEqual(parkedPositions(await list()), [poison, next]), 10_000);

    assert.deepEqual(await call(admin, admin.skipParked, { consumer: AUDIT_CONSUMER, position: String(poison), all: false }), { skipped: 1 });
    const remaining = await list();
    assert.deepEqual(parkedPositions(remaining), [next]);
    assert.equal(remaining.events[0]!.waitingBehind, false, "it heads its chain now");
    const meanwhile = await add("skipped", "m");
    await eventually(async () => assert.deepEqual(parkedPositions(await list()), [next, meanwhile]));

    assert.deepEqual(await call(admin, admin.skipParked, { consumer: AUDIT_CONSUMER, position: "0", all: true }), { skipped: 2 });
    handler.broken = false;
    const flowing = await add("skipped", "f");
    await eventually(async () => assert.deepEqual(await auditedPositions(audit.views, "skipped"), [created, flowing]));
    assert.deepEqual(parkedPositions(await list()), []);
  });

  it("keeps a redriven event that fails again parked, with its attempts counted, and its chain blocked", async () => {
    handler.broken = true;
    const created = await create("stubborn");
    const poison = await add("stubborn", "p", "poison");
    await eventually(async () => assert.deepEqual(parkedPositions(await list()), [poison]), 10_000);
    await call(admin, admin.retryParked, { consumer: AUDIT_CONSUMER, aggregateType: "", aggregateId: "" });
    await eventually(async () => assert.equal((await list()).events[0]?.attempts, 6), 10_000);
    const later = await add("stubborn", "l");
    await eventually(async () => assert.deepEqual(parkedPositions(await list()), [poison, later]));
    assert.deepEqual(await auditedPositions(audit.views, "stubborn"), [created]);
    handler.broken = false;
    await call(admin, admin.retryParked, { consumer: AUDIT_CONSUMER, aggregateType: "", aggregateId: "" });
    await eventually(async () => assert.deepEqual(await auditedPositions(audit.views, "stubborn"), [created, poison, later]), 10_000);
  });

  it("drains a consumer that is trying an event in place, leaving the event unparked for its next start", async () => {
    handler.broken = false;
    const lines: LogLine[] = [];
    const stubborn = new MeshService({ address: mesh.address, component: "stubborn", logger: capturingLogger(lines) });
    stubborn.addProjection(auditProjection(new EmbeddedViewStore(), { broken: true }, "draining"), { deadEvents: { attempts: 1_000, initialBackoffMs: 50, maxBackoffMs: 50 } });
    await stubborn.start();
    // It reads the stream from the start: the first poison item it meets (this one, or an earlier test's) fails.
    await create("drained");
    await add("drained", "p", "poison");
    await eventually(async () => assert.ok(lines.some((line) => line.message === "consumer failed to handle an event; trying again")), 10_000);
    await stubborn.drain();
    assert.deepEqual(parkedPositions(await list("draining")), [], "nothing was reported for parking");
  });

  it("answers bad admin requests with INVALID_ARGUMENT or NOT_FOUND", async () => {
    assert.equal((await failure(call(admin, admin.listParkedEvents, { consumer: "", afterPosition: "0", pageSize: 0 }))).code, status.INVALID_ARGUMENT);
    assert.equal((await failure(call(admin, admin.retryParked, { consumer: AUDIT_CONSUMER, aggregateType: "TodoList", aggregateId: "" }))).code, status.INVALID_ARGUMENT);
    assert.equal((await failure(call(admin, admin.skipParked, { consumer: AUDIT_CONSUMER, position: "5", all: true }))).code, status.INVALID_ARGUMENT);
    assert.equal((await failure(call(admin, admin.skipParked, { consumer: AUDIT_CONSUMER, position: "999999", all: false }))).code, status.NOT_FOUND);
  });
});
