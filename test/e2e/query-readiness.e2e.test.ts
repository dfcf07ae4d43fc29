import assert from "node:assert/strict";
import { afterAll, afterEach, beforeAll, describe, it } from "@jest/globals";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { EmbeddedViewStore, MeshService, type Logger } from "@recq-mesh/kit";
import { todoListAggregate, todoListProjection, todoListQueries, TODO_LISTS, type TodoListDocument } from "@recq-mesh/todo";
import { TodoItemAdded, TodoListCreated } from "@recq-mesh/todo/gen/todo/v1/events";
import { HealthClient, HealthCheckResponse_ServingStatus as Serving } from "@recq-mesh/gateway/gen/grpc/health/v1/health";
import { call, closeHandlers, eventually, startGateway, tempDir, todoClients, type RunningGateway } from "../support/mesh-harness";

/**
 * A restarted TodoList service rebuilds its in-memory views by replay. Until they have caught up with the store
 * as it was at start, its queries must not be routed to it: a caller gets UNAVAILABLE (no handler), never a
 * NOT_FOUND for a list that exists, nor a list missing items; and the gateway's health says NOT_SERVING.
 */

const LISTS = 2_000;
const ITEMS_PER_LIST = 9;
const QUERIES = "todo.v1.TodoListQueryService";
const COMMANDS = "todo.v1.TodoListCommandService";

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

function capturingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** The TodoList service as main.ts builds it, with its view store at hand; not started. */
function todoService(address: string, options: { logger?: Logger; catchUpTimeoutMs?: number } = {}): { mesh: MeshService; views: EmbeddedViewStore } {
  const mesh = new MeshService({ address, component: "todo", logger: options.logger, catchUpTimeoutMs: options.catchUpTimeoutMs });
  const views = new EmbeddedViewStore();
  const projection = todoListProjection(views, "instance");
  mesh.addAggregate(todoListAggregate).addProjection(projection).addQueries(todoListQueries(views, projection));
  return { mesh, views };
}

describe("queries of a restarted service wait for its views", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let gateway: RunningGateway;
  let health: HealthClient;
  let head = 0;
  const meshes: MeshService[] = [];

  const check = (service: string) =>
    new Promise<Serving>((resolve, reject) => health.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status))));

  beforeAll(async () => {
    data = await tempDir("query-readiness");
    gateway = await startGateway(data.dir);
    health = new HealthClient(gateway.address, credentials.createInsecure());
    // LISTS lists of 1 + ITEMS_PER_LIST events each, appended straight to the store (in parallel: group commit).
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < LISTS; i++) {
      const listId = `list-${i}`;
      const events = [{ type: "todo.v1.TodoListCreated", payload: Buffer.from(TodoListCreated.encode({ listId, name: `List ${i}` }).finish()), metadata: {} }];
      for (let n = 0; n < ITEMS_PER_LIST; n++) {
        events.push({ type: "todo.v1.TodoItemAdded", payload: Buffer.from(TodoItemAdded.encode({ listId, itemId: `i${n}`, text: `Item ${n}` }).finish()), metadata: {} });
      }
      appends.push(gateway.store.append({ aggregateType: "TodoList", aggregateId: listId, expectedSequence: 0, commandId: `seed-${i}`, events }));
    }
    await Promise.all(appends);
    head = await gateway.store.headPosition();
    assert.equal(head, LISTS * (1 + ITEMS_PER_LIST));
  }, 60_000);

  afterEach(async () => {
    await closeHandlers(gateway.gateway, meshes);
  });

  afterAll(async () => {
    health.close();
    await gateway.gateway.stop();
    await data.remove();
  });

  it("answers UNAVAILABLE, never NOT_FOUND or a partial list, until the replay reached the head; health turns SERVING only then", async () => {
    const first = todoService(gateway.address);
    meshes.push(first.mesh);
    await first.mesh.start();
    const clients = todoClients(gateway.address);
    try {
      const before = await call(clients.queries, clients.queries.getTodoList, { listId: `list-${LISTS - 1}` });
      assert.equal(before.items.length, ITEMS_PER_LIST);
      await closeHandlers(gateway.gateway, meshes);
      assert.equal(await check(QUERIES), Serving.NOT_SERVING);

      // The list whose last event is the head: complete in a view only once the replay reached the head.
      const [headEvent] = await gateway.store.readAll(head - 1, 1);
      const lines: LogLine[] = [];
      const second = todoService(gateway.address, { logger: capturingLogger(lines) });
      meshes.push(second.mesh);
      let started = false;
      const starting = second.mesh.start().then(() => (started = true));

      // Health, polled: the query service must turn SERVING only with the head's list complete in the views.
      let commandsServingFirst = false;
      let headListWhenServing: TodoListDocument | undefined;
      const watchHealth = (async () => {
        for (;;) {
          const [queries, commands] = await Promise.all([check(QUERIES), check(COMMANDS)]);
          if (queries === Serving.SERVING) {
            headListWhenServing = (await second.views.findById(TODO_LISTS, headEvent!.aggregateId)) as TodoListDocument | undefined;
            return;
          }
          if (commands === Serving.SERVING) commandsServingFirst = true;
        }
      })();

      // Callers asking for existing lists all through the restart, until well after the start ended.
      const outcomes: { code: number; reason?: string; items?: number }[] = [];
      const caller = async (offset: number) => {
        let afterStart = 0;
        for (let n = offset; afterStart < 20; n += 7) {
          if (started) afterStart += 1;
          try {
            // From the last lists appended down: those a replay reaches last.
            const view = await call(clients.queries, clients.queries.getTodoList, { listId: `list-${LISTS - 1 - (n % LISTS)}` });
            outcomes.push({ code: status.OK, items: view.items.length });
          } catch (thrown) {
            const error = thrown as ServiceError;
            outcomes.push({ code: error.code, reason: error.metadata?.get("recq-reason")[0]?.toString() });
          }
        }
      };
      await Promise.all([caller(0), caller(1), caller(2), caller(3), starting, watchHealth]);

      const notFound = outcomes.filter((o) => o.code === status.NOT_FOUND);
      assert.equal(notFound.length, 0, `${notFound.length} of ${outcomes.length} queries for existing lists answered NOT_FOUND`);
      const partial = outcomes.filter((o) => o.code === status.OK && o.items !== ITEMS_PER_LIST);
      assert.equal(partial.length, 0, `${partial.length} queries answered a list missing items`);
      const others = outcomes.filter((o) => o.code !== status.OK && !(o.code === status.UNAVAILABLE && o.reason === "NO_HANDLER"));
      assert.deepEqual(others, [], "before readiness only UNAVAILABLE / NO_HANDLER");
      assert.ok(outcomes.some((o) => o.code === status.UNAVAILABLE), "the test saw the window: some queries came before the views were ready");
      assert.ok(outcomes.filter((o) => o.code === status.OK).length >= 80, "and every caller was answered after it");

      assert.equal(headListWhenServing?.version, 1 + ITEMS_PER_LIST, "health SERVING only once the views reached the head");
      assert.ok(commandsServingFirst, "commands are subscribed at once, before the queries");
      const caughtUp = lines.find((l) => l.message === "projection caught up: its queries are served");
      assert.equal(caughtUp?.fields.head, head);
      assert.ok(!lines.some((l) => l.level === "error"), "no timeout, no failure");
    } finally {
      clients.close();
    }
  }, 120_000);

  it("subscribes a standby's queries once the active instance of their shared projection has caught up", async () => {
    // Two instances over one view store, as two processes over one MongoDB: one projection, one active instance.
    const views = new EmbeddedViewStore();
    const projection = todoListProjection(views, "shared");
    const lines: LogLine[][] = [[], []];
    const instances = lines.map((log) => {
      const mesh = new MeshService({ address: gateway.address, component: "todo-views", logger: capturingLogger(log), catchUpTimeoutMs: 60_000 });
      mesh.addProjection(projection).addQueries(todoListQueries(views, projection));
      meshes.push(mesh);
      return mesh;
    });
    const [headEvent] = await gateway.store.readAll(head - 1, 1);
    const headListAtStart: (number | undefined)[] = [];
    await Promise.all(
      instances.map(async (mesh) => {
        await mesh.start();
        headListAtStart.push(((await views.findById(TODO_LISTS, headEvent!.aggregateId)) as TodoListDocument | undefined)?.version);
      }),
    );
    assert.deepEqual(headListAtStart, [1 + ITEMS_PER_LIST, 1 + ITEMS_PER_LIST], "each instance's queries subscribed only with the views at the head");
    assert.equal(lines.filter((log) => log.some((l) => l.message === "consumer waits as standby")).length, 1, "one of them was the standby");
    for (const log of lines) assert.deepEqual(log.filter((l) => l.level === "error"), [], "neither waited for the limit");
  }, 120_000);

  it("serves the queries anyway once catchUpTimeoutMs has passed without the projection catching up, and logs it", async () => {
    const lines: LogLine[] = [];
    // Tries in place for ever: its events are never parked (the dead-event queue would let it reach the head).
    const deadEvents = { attempts: Number.MAX_SAFE_INTEGER };
    const stuck = new MeshService({ address: gateway.address, component: "todo-stuck", logger: capturingLogger(lines), catchUpTimeoutMs: 300, deadEvents });
    const views = new EmbeddedViewStore();
    const projection = todoListProjection(views, "instance");
    // A projection that fails on every event never reaches the head.
    stuck.addProjection({ ...projection, apply: () => Promise.reject(new Error("this projection cannot apply events")) });
    stuck.addQueries(todoListQueries(views, projection));
    meshes.push(stuck);

    let queriesServing = false;
    const starting = stuck.start().then(() => (queriesServing = true));
    await eventually(async () => assert.ok(lines.some((l) => l.message.startsWith("consumer failed to handle an event"))));
    assert.equal(queriesServing, false);
    assert.equal(await check(QUERIES), Serving.NOT_SERVING, "not served while within the limit");
    await starting;
    const timedOut = lines.find((l) => l.level === "error" && l.message.startsWith("the projection has not caught up in time"));
    assert.deepEqual({ ...timedOut?.fields }, { consumer: stuck.consumerName(projection), position: 0, head, timeoutMs: 300 });
    await eventually(async () => assert.equal(await check(QUERIES), Serving.SERVING));
  });
});
