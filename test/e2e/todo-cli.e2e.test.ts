import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { Invoker, MeshError, MeshService, timeOrderedId } from "@recq-mesh/kit";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { DocumentedCommands, shellBlocks } from "../support/documented-commands";
import { markdownSection } from "../support/markdown-commands";
import { closeHandlers, eventually, startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";

const README = process.env.RECQ_README_UNDER_TEST ?? path.join(REPO, "README.md");
const CLI = path.join(REPO, "services", "todo", "dist", "cli.js");

/** One run of the CLI as a process of its own: its exit code and what it printed. */
async function cli(address: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return cliWith({}, address, ...args);
}

/** The same, with more environment variables. */
async function cliWith(env: NodeJS.ProcessEnv, address: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [CLI, "--gateway", address, ...args], { timeout: 20_000, env: { ...process.env, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? -1, stdout: error.stdout ?? "", stderr: error.stderr ?? "" }),
  );
}

/** The promise's value, or a failure once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `watch` as a process of its own; `shows(text)` waits until its output ends with `text`. */
function watchProcess(address: string, list: string) {
  const child = spawn(process.execPath, [CLI, "--gateway", address, "watch", list], { stdio: ["ignore", "pipe", "pipe"] });
  let printed = "";
  child.stdout.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const shows = (text: string) => eventually(async () => assert.ok(printed.endsWith(text), `watch printed:\n${printed}`), 15_000);
  return { child, exited, shows, printed: () => printed };
}

describe("the TodoList CLI", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let other: MeshService;

  beforeAll(async () => {
    data = await tempDir("todo-cli");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    other = new MeshService({ address: mesh.address, component: "other-client" });
    await other.start();
  });

  afterAll(async () => {
    await closeHandlers(mesh.gateway, [other, todo.mesh]);
    await mesh.gateway.stop();
    await data.remove();
  });

  it("runs the README's commands as written, each printing what the README shows", async () => {
    const blocks = shellBlocks(markdownSection(README, "The TodoList from a terminal"));
    assert.ok(blocks.flat().some((step) => /npm run todo -- .*watch/.test(step.command)), "the section shows watch");
    const commands = new DocumentedCommands({ "127.0.0.1:50051": () => mesh.address }, () => process.env, 30_000);
    for (const steps of blocks) await commands.runBlock(steps);
  }, 120_000);

  it("creates lists under new time-ordered ids, and the aggregate refuses an id that exists", async () => {
    const first = await cli(mesh.address, "create", "Chores");
    assert.equal(first.code, 0, first.stderr);
    const listId = /created list "Chores" with id (\S+)/.exec(first.stdout)?.[1];
    assert.match(listId ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "a UUIDv7");
    const second = await cli(mesh.address, "create", "Chores");
    const secondId = /with id (\S+)/.exec(second.stdout)?.[1] ?? "";
    assert.ok(secondId > listId!, "a later id sorts after");

    const duplicate = await cli(mesh.address, "create", "Other chores", "--id", listId!);
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, new RegExp(`error: ALREADY_EXISTS: todo list ${listId} already exists`));
    // Two lists of one name: the CLI asks for an id instead of guessing.
    const ambiguous = await cli(mesh.address, "show", "Chores");
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.stderr, /2 lists are named "Chores": name one by its id/);
    const byId = await cli(mesh.address, "show", listId!);
    assert.equal(byId.stdout, "Chores (0 of 0 done)\n");
    const unread = await cli(mesh.address, "create");
    assert.equal(unread.code, 2);
    assert.match(unread.stderr, /create takes a name\nusage: npm run todo --/);
  });

  it("refuses a duplicate id sent through the Invoker too: another command id, the same list id", async () => {
    const invoker = Invoker.overLink(other);
    const listId = timeOrderedId();
    await invoker.call(TodoListCommandServiceService.createTodoList, { listId, name: "Once" }, { commandId: timeOrderedId() });
    const again = await invoker.call(TodoListCommandServiceService.createTodoList, { listId, name: "Twice" }, { commandId: timeOrderedId() }).catch((e: unknown) => e);
    assert.ok(again instanceof MeshError);
    assert.deepEqual([again.code, again.reason], [status.ALREADY_EXISTS, "DOMAIN_RULE"]);
  });

  it("watch, a process of its own, prints each save that another client's commands make, in order", async () => {
    const listId = timeOrderedId();
    const commands = Invoker.overLink(other).service(TodoListCommandServiceService);
    const created = await commands.createTodoList({ listId, name: "Errands" });
    await eventually(async () => assert.equal((await cli(mesh.address, "show", listId)).code, 0));
    const { child: watch, exited, shows, printed } = watchProcess(mesh.address, listId);
    try {
      assert.ok(Number(created.position) > 0);
      await shows("Errands (0 of 0 done)\n");
      // Each save, one after the other, as the watcher sees it.
      await commands.addTodoItem({ listId, itemId: "post", text: "Post office" });
      await shows("Errands (0 of 1 done)\n  [ ] Post office\n");
      await commands.addTodoItem({ listId, itemId: "bank", text: "Bank" });
      await shows("Errands (0 of 2 done)\n  [ ] Post office\n  [ ] Bank\n");
      await commands.completeTodoItem({ listId, itemId: "bank" });
      await shows("Errands (1 of 2 done)\n  [ ] Post office\n  [x] Bank\n");
      await commands.renameTodoList({ listId, name: "Saturday errands" });
      await shows("Saturday errands (1 of 2 done)\n  [ ] Post office\n  [x] Bank\n");
      watch.kill("SIGINT");
      assert.equal(await within(exited, 10_000), 0, "Ctrl-C ends a watch cleanly");
      const views = printed().split("\n").filter((line) => /^\S.*done\)$/.test(line));
      assert.equal(views.length, 5, `five views, one per save:\n${printed()}`);
    } finally {
      watch.kill("SIGKILL");
    }
  });

  it("ends a watch when its list is deleted", async () => {
    const listId = timeOrderedId();
    const commands = Invoker.overLink(other).service(TodoListCommandServiceService);
    await commands.createTodoList({ listId, name: "Short-lived" });
    await eventually(async () => assert.equal((await cli(mesh.address, "show", listId)).code, 0));
    const watch = watchProcess(mesh.address, listId);
    try {
      await watch.shows("Short-lived (0 of 0 done)\n");
      await commands.deleteTodoList({ listId });
      assert.equal(await within(watch.exited, 10_000), 0, watch.printed());
      assert.match(watch.printed(), /Short-lived \(deleted\)\n$/);
    } finally {
      watch.child.kill("SIGKILL");
    }
  });
});

describe("the TodoList CLI against a gateway that requires a caller token", () => {
  it("sends RECQ_CLIENT_TOKEN as its bearer token; without it the gateway refuses", async () => {
    const data = await tempDir("todo-cli-token");
    const mesh = await startGateway(data.dir, { clientToken: "cli-secret" });
    const todo = await startTodo(mesh.address);
    try {
      const refused = await cli(mesh.address, "create", "Private");
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /error: UNAUTHENTICATED: credentials are required/);
      const created = await cliWith({ RECQ_CLIENT_TOKEN: "cli-secret" }, mesh.address, "create", "Private");
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /created list "Private" with id/);
    } finally {
      await closeHandlers(mesh.gateway, [todo.mesh]);
      await mesh.gateway.stop();
      await data.remove();
    }
  });
});
