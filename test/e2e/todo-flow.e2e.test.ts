import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import { Completion, TodoListSort, type TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { call, eventually, failure, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";

describe("TodoList through the mesh", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let clients: ReturnType<typeof todoClients>;
  let commands: ReturnType<typeof todoClients>["commands"];
  let queries: ReturnType<typeof todoClients>["queries"];

  beforeAll(async () => {
    data = await tempDir("flow");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    clients = todoClients(mesh.address);
    ({ commands, queries } = clients);
  });

  afterAll(async () => {
    clients.close();
    await todo.mesh.drain();
    await mesh.gateway.stop();
    await data.remove();
  });


  it("creates a list, adds and completes items, and reads back exactly that state with the consistency token", async () => {
    const created = await call(commands, commands.createTodoList, { listId: "groceries", name: "Groceries" });
    assert.equal(created.sequence, "1");
    await call(commands, commands.addTodoItem, { listId: "groceries", itemId: "milk", text: "Milk" });
    await call(commands, commands.addTodoItem, { listId: "groceries", itemId: "eggs", text: "Eggs" });
    const completed = await call(commands, commands.completeTodoItem, { listId: "groceries", itemId: "milk" });
    assert.equal(completed.sequence, "4");

    const view = await call(queries, queries.getTodoList, { listId: "groceries" }, { "recq-consistency-token": completed.position });
    assert.equal(view.name, "Groceries");
    assert.equal(view.version, "4");
    assert.deepEqual(view.items, [
      { itemId: "milk", text: "Milk", completed: true, attachments: [] },
      { itemId: "eggs", text: "Eggs", completed: false, attachments: [] },
    ]);
    assert.equal(view.itemCount, 2);
    assert.equal(view.completedCount, 1);
  });

  it("answers a repeated command id with the first outcome and executes it once", async () => {
    await call(commands, commands.createTodoList, { listId: "dedupe", name: "Dedupe" });
    const headers = { "recq-command-id": "add-once-1" };
    const first = await call(commands, commands.addTodoItem, { listId: "dedupe", itemId: "a", text: "A" }, headers);
    const again = await call(commands, commands.addTodoItem, { listId: "dedupe", itemId: "a", text: "A" }, headers);
    assert.deepEqual(again, first);
    assert.equal(first.commandId, "add-once-1");
    const history = await mesh.store.readAggregate("TodoList", "dedupe");
    assert.equal(history.sequence, 2, "the repeat appended nothing");

    // A failure is recorded too: the repeat gets the same status, even after the list changed.
    const rejected = { "recq-command-id": "add-dup-1" };
    const firstFailure = await failure(call(commands, commands.addTodoItem, { listId: "dedupe", itemId: "a", text: "A" }, rejected));
    assert.equal(firstFailure.code, status.ALREADY_EXISTS);
    await call(commands, commands.removeTodoItem, { listId: "dedupe", itemId: "a" });
    const repeatFailure = await failure(call(commands, commands.addTodoItem, { listId: "dedupe", itemId: "a", text: "A" }, rejected));
    assert.equal(repeatFailure.code, status.ALREADY_EXISTS);
    assert.equal(repeatFailure.details, firstFailure.details);
  });

  it("runs concurrent commands on one aggregate in order, none lost", async () => {
    await call(commands, commands.createTodoList, { listId: "busy", name: "Busy" });
    const acks = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(commands, commands.addTodoItem, { listId: "busy", itemId: `i${i}`, text: `Item ${i}` })),
    );
    assert.deepEqual(acks.map((a) => Number(a.sequence)).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 2));
    const last = acks.reduce((a, b) => (Number(a.position) > Number(b.position) ? a : b));
    const view = await call(queries, queries.getTodoList, { listId: "busy" }, { "recq-consistency-token": last.position });
    assert.equal(view.itemCount, 50);
  });

  it("refuses a command on a deleted list with the handler's FAILED_PRECONDITION and message", async () => {
    await call(commands, commands.createTodoList, { listId: "gone", name: "Gone" });
    const deleted = await call(commands, commands.deleteTodoList, { listId: "gone" });
    const error = await failure(call(commands, commands.addTodoItem, { listId: "gone", itemId: "x", text: "X" }));
    assert.equal(error.code, status.FAILED_PRECONDITION);
    assert.equal(error.details, "todo list gone is deleted");
    assert.equal(error.metadata.get("recq-reason")[0], "DOMAIN_RULE");
    // With the deletion's position: a view that had the creation but not yet the deletion would still show the list.
    const notFound = await failure(call(queries, queries.getTodoList, { listId: "gone" }, { "recq-consistency-token": deleted.position }));
    assert.equal(notFound.code, status.NOT_FOUND);
  });

  it("answers INVALID_ARGUMENT for a missing routing key and for bad input the handler validates", async () => {
    const noKey = await failure(call(commands, commands.createTodoList, { listId: "", name: "X" }));
    assert.equal(noKey.code, status.INVALID_ARGUMENT);
    assert.match(noKey.details, /list_id is required: it is the routing key/);
    const noName = await failure(call(commands, commands.createTodoList, { listId: "nameless", name: "  " }));
    assert.equal(noName.code, status.INVALID_ARGUMENT);
    assert.equal(noName.details, "name is required");
    const badToken = await failure(call(queries, queries.getTodoList, { listId: "groceries" }, { "recq-consistency-token": "soon" }));
    assert.equal(badToken.code, status.INVALID_ARGUMENT);
  });

  it("lists with a name filter, completion filter, sort and page tokens that visit every list once", async () => {
    for (const [id, name] of [["p1", "Paging Alpha"], ["p2", "paging beta"], ["p3", "Paging Gamma"], ["p4", "Other"]] as const) {
      await call(commands, commands.createTodoList, { listId: id, name });
    }
    await call(commands, commands.addTodoItem, { listId: "p2", itemId: "x", text: "X" });
    const done = await call(commands, commands.completeTodoItem, { listId: "p2", itemId: "x" });
    const token = { "recq-consistency-token": done.position };
    const seen: TodoListView[] = [];
    let pageToken = "";
    do {
      const page = await call(
        queries,
        queries.listTodoLists,
        { nameContains: "PAGING", completion: Completion.COMPLETION_UNSPECIFIED, sort: TodoListSort.TODO_LIST_SORT_NAME, descending: true, pageSize: 2, pageToken },
        token,
      );
      assert.ok(page.lists.length <= 2);
      seen.push(...page.lists);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.deepEqual(seen.map((l) => l.name), ["paging beta", "Paging Gamma", "Paging Alpha"].sort().reverse());
    const complete = await call(queries, queries.listTodoLists, { nameContains: "paging", completion: Completion.COMPLETION_COMPLETE, sort: 0, descending: false, pageSize: 0, pageToken: "" }, token);
    assert.deepEqual(complete.lists.map((l) => l.listId), ["p2"]);
    const tooBig = await failure(call(queries, queries.listTodoLists, { nameContains: "", completion: 0, sort: 0, descending: false, pageSize: 101, pageToken: "" }));
    assert.equal(tooBig.code, status.INVALID_ARGUMENT);
    const forged = await failure(call(queries, queries.listTodoLists, { nameContains: "", completion: 0, sort: 0, descending: false, pageSize: 1, pageToken: "bm9wZQ" }));
    assert.equal(forged.code, status.INVALID_ARGUMENT);
  });

  it("streams WatchTodoList: the current view, then each change, and ends when the list is deleted", async () => {
    const created = await call(commands, commands.createTodoList, { listId: "watched", name: "Watched" });
    const seen: TodoListView[] = [];
    const { Metadata } = await import("@grpc/grpc-js");
    const md = new Metadata();
    md.set("recq-consistency-token", created.position);
    const stream = queries.watchTodoList({ listId: "watched" }, md);
    const ended = new Promise<void>((resolve, reject) => {
      stream.on("data", (view: TodoListView) => seen.push(view));
      stream.on("end", () => resolve());
      stream.on("error", reject);
    });
    await eventually(async () => assert.equal(seen.length, 1));
    await call(commands, commands.addTodoItem, { listId: "watched", itemId: "w", text: "W" });
    await eventually(async () => assert.equal(seen.length, 2));
    await call(commands, commands.renameTodoList, { listId: "watched", name: "Renamed" });
    await call(commands, commands.deleteTodoList, { listId: "watched" });
    await ended;
    assert.deepEqual(seen.map((v) => [v.version, v.name, v.itemCount, v.deleted]), [
      ["1", "Watched", 0, false],
      ["2", "Watched", 1, false],
      ["3", "Renamed", 1, false],
      ["4", "Renamed", 1, true],
    ]);
  });

  it("encodes CommandAck as the contract says", async () => {
    const ack = await call(commands, commands.createTodoList, { listId: "ack", name: "Ack" });
    assert.deepEqual(CommandAck.decode(CommandAck.encode(ack).finish()), ack);
    assert.ok(Number(ack.position) > 0);
  });
});
