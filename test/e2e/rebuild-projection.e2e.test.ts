import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { RebuildState } from "@recq-mesh/protocol/gen/recq/v1/projections";
import { ListTodoLists, type TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { EmbeddedViewStore } from "@recq-mesh/kit";
import { TODO_LISTS } from "@recq-mesh/todo";
import { call, eventually, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";
import { documentsById, freshProjection, projectionAdmin, projectionStatus, RebuildGate, startRebuildableTodo, type RebuildableTodo } from "../support/rebuild-harness";

/**
 * Rebuilding a projection while it serves, through a real gateway with the TodoList: recq.v1.ProjectionAdminService
 * asks the projection's instance to replay the event stream into a new generation of its views, the queries read the
 * current one until the new one caught up, then switch.
 */
describe("rebuilding a projection while it serves", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let gateway: RunningGateway;
  let clients: ReturnType<typeof todoClients>;
  let admin: ReturnType<typeof projectionAdmin>;
  const services: RebuildableTodo[] = [];
  const gates: RebuildGate[] = [];
  /** Streams a failed test would leave open. */
  const cleanups: (() => void)[] = [];

  beforeEach(async () => {
    data = await tempDir("rebuild");
    gateway = await startGateway(data.dir);
    clients = todoClients(gateway.address);
    admin = projectionAdmin(gateway.address);
  });

  afterEach(async () => {
    clients.close();
    admin.close();
    // A held rebuild would hold the drain (it finishes the event in hand).
    for (const gate of gates.splice(0)) gate.open();
    for (const cleanup of cleanups.splice(0)) cleanup();
    await Promise.all(services.splice(0).map((service) => service.mesh.drain()));
    await gateway.gateway.stop();
    await data.remove();
  });

  async function start(options: Parameters<typeof startRebuildableTodo>[1] = {}): Promise<RebuildableTodo> {
    if (options.gate) gates.push(options.gate);
    const service = await startRebuildableTodo(gateway.address, options);
    services.push(service);
    return service;
  }

  /** `lists` lists of `items` items each; each list's last acknowledgement position. */
  async function seed(lists: number, items: number): Promise<Map<string, { items: number; position: string }>> {
    const seeded = new Map<string, { items: number; position: string }>();
    await Promise.all(
      Array.from({ length: lists }, async (_, l) => {
        const listId = `list-${l}`;
        let ack = await call(clients.commands, clients.commands.createTodoList, { listId, name: `List ${l}` });
        for (let i = 0; i < items; i++) ack = await call(clients.commands, clients.commands.addTodoItem, { listId, itemId: `i${i}`, text: `Item ${i}` });
        seeded.set(listId, { items, position: ack.position });
      }),
    );
    return seeded;
  }

  const read = (listId: string, token?: string): Promise<TodoListView> =>
    call(clients.queries, clients.queries.getTodoList, { listId }, token === undefined ? {} : { "recq-consistency-token": token });

  it("rebuilds into a new generation while a client keeps commanding and reading, then switches with nothing lost", async () => {
    const gate = new RebuildGate(100);
    const todo = await start({ gate });
    const lists = await seed(40, 4); // 200 events
    const headBefore = await gateway.store.headPosition();
    const lastBefore = [...lists.values()].reduce((a, b) => (Number(a.position) > Number(b.position) ? a : b)).position;

    // A watcher of one list, open across the switch.
    const watched: TodoListView[] = [];
    const watch = clients.queries.watchTodoList({ listId: "list-0" });
    watch.on("data", (view: TodoListView) => watched.push(view));
    watch.on("error", () => undefined);
    cleanups.push(() => watch.cancel());
    await eventually(async () => assert.equal(watched.length, 1));

    const requested = await call(admin, admin.rebuildProjection, { projection: todo.consumer });
    assert.equal(requested.rebuild?.generation, 2);
    assert.ok([RebuildState.REBUILD_STATE_REQUESTED, RebuildState.REBUILD_STATE_RUNNING].includes(requested.rebuild.state));
    const again = await call(admin, admin.rebuildProjection, { projection: todo.consumer });
    assert.equal(again.rebuild?.generation, 2, "a second request answers the rebuild that runs");

    // Progress is visible while it runs: the new generation held at 100 of 200, the current one serving at the head.
    const running = await eventually(async () => {
      const found = await projectionStatus(admin, todo.consumer);
      assert.equal(found.rebuild?.state, RebuildState.REBUILD_STATE_RUNNING);
      assert.equal(found.rebuild.position, "100");
      return found;
    });
    assert.equal(running.generation, 1);
    assert.equal(running.position, String(headBefore));
    assert.equal(Number(running.rebuild?.head), headBefore);
    assert.equal(running.lag, "0");
    assert.equal(running.activeInstance, todo.mesh.instanceId);

    // A client keeps commanding and reading, with each list's latest token: every read answers the full list.
    let traffic = true;
    let turns = 0;
    const client = (async () => {
      for (let turn = 0; traffic || turn < 10; turn++) {
        const listId = `list-${turn % 40}`;
        const known = lists.get(listId)!;
        const ack = await call(clients.commands, clients.commands.addTodoItem, { listId, itemId: `t${turn}`, text: `Turn ${turn}` });
        lists.set(listId, { items: known.items + 1, position: ack.position });
        const view = await read(listId, ack.position);
        assert.equal(view.itemCount, known.items + 1, `${listId} read with its token at turn ${turn}`);
        const other = await read(`list-${(turn * 7) % 40}`);
        assert.ok(other.itemCount >= 4, "a read without a token still finds a whole list");
        const page = await call(clients.queries, clients.queries.listTodoLists, ListTodoLists.fromPartial({ pageSize: 100 }));
        assert.equal(page.lists.length, 40, "no query sees an empty or partial view");
        turns = turn + 1;
      }
    })();
    await eventually(async () => assert.ok(turns >= 5));
    gate.open();
    const completed = await eventually(async () => {
      const found = await projectionStatus(admin, todo.consumer);
      assert.equal(found.rebuild?.state, RebuildState.REBUILD_STATE_COMPLETED);
      return found;
    }, 20_000);
    traffic = false;
    await client;
    assert.equal(completed.generation, 2);
    assert.equal(todo.views.generation, 2);

    // A token from before the switch is honoured after it, as are the ones issued across it (checked above).
    assert.equal((await read("list-0", lastBefore)).name, "List 0");
    // The watcher keeps receiving: a change after the switch reaches it.
    const ack = await call(clients.commands, clients.commands.addTodoItem, { listId: "list-0", itemId: "after", text: "After" });
    await eventually(async () => assert.ok(watched.some((view) => view.items.some((item) => item.itemId === "after"))));
    watch.cancel();

    // The views equal a fresh projection's; the old generation is gone.
    await read("list-0", ack.position);
    const fresh = await freshProjection(gateway.address, "fresh-todo-lists");
    assert.deepEqual(documentsById(await todo.inner.find(`${TODO_LISTS}~g2`, {}, { limit: 1_000 })), fresh);
    assert.equal(await todo.inner.count(TODO_LISTS, {}), 0);
    assert.equal(await todo.inner.checkpoint(todo.consumer), 0);
    const after = await projectionStatus(admin, todo.consumer);
    assert.equal(after.position, String(await gateway.store.headPosition()));
  }, 60_000);

  it("answers FAILED_PRECONDITION without an instance, NOT_FOUND for an unknown projection, INVALID_ARGUMENT without a name", async () => {
    const rebuild = await failure(call(admin, admin.rebuildProjection, { projection: "nobody" }));
    assert.equal(rebuild.code, status.FAILED_PRECONDITION);
    assert.match(rebuild.details, /nobody has no instance connected/);
    assert.equal((await failure(call(admin, admin.getProjection, { projection: "nobody" }))).code, status.NOT_FOUND);
    assert.equal((await failure(call(admin, admin.getProjection, { projection: "" }))).code, status.INVALID_ARGUMENT);
    assert.equal((await failure(call(admin, admin.rebuildProjection, { projection: "" }))).code, status.INVALID_ARGUMENT);
    const todo = await start();
    const { projections } = await call(admin, admin.listProjections, {});
    assert.deepEqual(projections.map((p) => [p.projection, p.generation, p.rebuild]), [[todo.consumer, 1, undefined]]);

    // A projection whose views are not in generations cannot be rebuilt: refused, not asked in vain.
    const plain = await startTodo(gateway.address, { instanceId: "plain", roles: ["views"] });
    try {
      const refused = await failure(call(admin, admin.rebuildProjection, { projection: plain.mesh.consumerName({ name: "todo-lists", scope: "instance" }) }));
      assert.equal(refused.code, status.FAILED_PRECONDITION);
      assert.match(refused.details, /cannot be rebuilt: its instance plain does not keep its views in generations/);
    } finally {
      await plain.mesh.drain();
    }
  });

  it("resumes a rebuild from its own checkpoint after the process died during it", async () => {
    const inner = new EmbeddedViewStore();
    const instanceId = "views-1";
    const firstGate = new RebuildGate(50);
    const first = await start({ inner, instanceId, gate: firstGate });
    await seed(10, 5); // 60 events
    await call(admin, admin.rebuildProjection, { projection: first.consumer });
    await eventually(async () => assert.equal((await projectionStatus(admin, first.consumer)).rebuild?.position, "50"));
    // The process dies: its streams go away without a drain; the views stay in `inner`, as MongoDB's would.
    first.mesh.close();
    services.splice(services.indexOf(first), 1);
    const abandoned = await eventually(async () => {
      const statuses = await call(admin, admin.listProjections, {});
      assert.equal(statuses.projections.length, 0, "the projection has no instance left");
      return statuses;
    });
    assert.ok(abandoned);

    const secondGate = new RebuildGate(Number.MAX_SAFE_INTEGER);
    const second = await start({ inner, instanceId, gate: secondGate });
    assert.equal(second.views.generation, 1);
    const resumed = await call(admin, admin.rebuildProjection, { projection: second.consumer });
    assert.equal(resumed.rebuild?.generation, 2);
    await eventually(async () => assert.equal((await projectionStatus(admin, second.consumer)).rebuild?.state, RebuildState.REBUILD_STATE_COMPLETED), 20_000);
    assert.equal(secondGate.applied[0], 51, "the rebuild went on after its checkpoint, not from 0");
    const fresh = await freshProjection(gateway.address, "fresh-after-crash");
    assert.deepEqual(documentsById(await inner.find(`${TODO_LISTS}~g2`, {}, { limit: 1_000 })), fresh);
  }, 60_000);

  it("marks a rebuild abandoned when its stream goes away before the switch", async () => {
    const gate = new RebuildGate(10);
    const todo = await start({ gate, instanceId: "first" });
    await seed(5, 3);
    await call(admin, admin.rebuildProjection, { projection: todo.consumer });
    await eventually(async () => assert.equal((await projectionStatus(admin, todo.consumer)).rebuild?.state, RebuildState.REBUILD_STATE_RUNNING));
    // The rebuild stream alone goes away (its client is closed; the projection's own stream stays).
    const rebuilding = (todo.mesh as unknown as { rebuilds: Map<string, { clients: Set<{ close(): void }> }> }).rebuilds.get(todo.consumer);
    assert.ok(rebuilding);
    for (const client of rebuilding.clients) client.close();
    const abandoned = await eventually(async () => {
      const found = await projectionStatus(admin, todo.consumer);
      assert.equal(found.rebuild?.state, RebuildState.REBUILD_STATE_ABANDONED);
      return found;
    });
    assert.match(abandoned.rebuild?.message ?? "", /closed before the switch/);
    assert.equal(abandoned.generation, 1);
  });

  it("a standby of a shared projection follows the switch of the active instance", async () => {
    const inner = new EmbeddedViewStore();
    const active = await start({ inner, instanceId: "active", scope: "shared" });
    await seed(10, 2);
    const standby = await start({ inner, instanceId: "standby", scope: "shared", roles: ["views"] });
    await eventually(async () => assert.equal((await projectionStatus(admin, "todo-lists")).standbys, 1));
    await call(admin, admin.rebuildProjection, { projection: "todo-lists" });
    await eventually(async () => assert.equal((await projectionStatus(admin, "todo-lists")).rebuild?.state, RebuildState.REBUILD_STATE_COMPLETED), 20_000);
    assert.equal(active.views.generation, 2);
    await eventually(async () => assert.equal(standby.views.generation, 2));
    assert.equal((await standby.views.find(TODO_LISTS, {})).length, 10, "the standby reads the new generation, not the dropped one");
    // The standby reopened its stream at the new generation, still a standby.
    await eventually(async () => {
      const status = await projectionStatus(admin, "todo-lists");
      assert.equal(status.activeInstance, "active");
      assert.equal(status.standbys, 1);
    });
  }, 60_000);
});

describe("ProjectionAdminService on the HTTP port", () => {
  it("answers Connect JSON (curl), with the client token as for every call", async () => {
    const data = await tempDir("rebuild-http");
    const gateway = await startGateway(data.dir, { clientToken: "admin-token", http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 1_000 } });
    const todo = await startRebuildableTodo(gateway.address, { instanceId: "http" });
    try {
      const base = `http://127.0.0.1:${gateway.gateway.http!.port}/recq.v1.ProjectionAdminService`;
      const post = (method: string, body: unknown, token = "admin-token") =>
        fetch(`${base}/${method}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
      const listed = await post("ListProjections", {});
      assert.equal(listed.status, 200);
      assert.equal(((await listed.json()) as { projections: { projection: string }[] }).projections.map((p) => p.projection).join(), todo.consumer);
      const rebuilt = await post("RebuildProjection", { projection: todo.consumer });
      assert.equal(((await rebuilt.json()) as { rebuild: { generation: number } }).rebuild.generation, 2);
      assert.equal((await post("ListProjections", {}, "wrong")).status, 403, "another token: permission_denied");
    } finally {
      await todo.mesh.drain();
      await gateway.gateway.stop();
      await data.remove();
    }
  });
});
