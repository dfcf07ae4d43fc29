import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { markdownSection, shellSteps, type ShellStep } from "../support/markdown-commands";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, GRPCURL_PATH } from "../support/tools";

const run = promisify(execFile);
const README = path.join(REPO, "README.md");
/** The address every README example names; the test's gateway listens on a port of its own. */
const README_ADDRESS = "127.0.0.1:50051";
/** The one placeholder of the section: a value an earlier answer printed. */
const PAGE_TOKEN_PLACEHOLDER = "<nextPageToken of the previous page>";

interface Outcome {
  ok: boolean;
  /** stdout and stderr together, as a person reads them in a terminal. */
  text: string;
}

/**
 * The README's "Calling it with grpcurl" section, run with grpcurl as written, in order, against one fresh
 * gateway and TodoList service: the examples depend on each other (create, then add, then read…) as a person
 * following them does. Where the README shows what a call prints (`Code: …`, `recq-reason: …` in the comments
 * under it), that is asserted; every other call must succeed.
 */
describeWith(GRPCURL)("the README's grpcurl examples, verbatim, against the running mesh", () => {
  const steps = shellSteps(markdownSection(README, "Calling it with grpcurl"));
  /** Every call made, in order (the same command may be sent twice: a retry). */
  const outcomes: [command: string, outcome: Outcome][] = [];
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;

  beforeAll(async () => {
    data = await tempDir("readme-grpcurl");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  /** The command as a shell runs it here: the test's grpcurl and gateway, and nothing else changed. */
  const runnable = (command: string) => command.replace(/^grpcurl /, `${GRPCURL_PATH} `).replaceAll(README_ADDRESS, mesh.address);

  async function grpcurl(command: string): Promise<Outcome> {
    return run("bash", ["-c", runnable(command)], { timeout: 30_000 }).then(
      (result) => ({ ok: true, text: result.stdout + result.stderr }),
      (error: { stdout?: string; stderr?: string }) => ({ ok: false, text: `${error.stdout ?? ""}${error.stderr ?? ""}` }),
    );
  }

  /** A subscription runs until its caller stops it: it is started, the next step changes the list, it is stopped. */
  async function watchWhile(step: ShellStep, change: () => Promise<void>): Promise<Outcome> {
    const child = spawn("bash", ["-c", `exec ${runnable(step.command)}`], { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    const views = () => text.split(/^}$/m).length - 1;
    const until = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${step.command} printed ${views()} views, not ${count}:\n${text}`)), 15_000);
        const check = () => {
          if (views() < count) return;
          clearTimeout(timer);
          child.stdout.off("data", check);
          resolve();
        };
        child.stdout.on("data", check);
        check();
      });
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    try {
      await until(1);
      await change();
      await until(2);
    } finally {
      child.kill("SIGINT");
    }
    return { ok: true, text };
  }

  it("runs every grpcurl line of the section, in order, as the README says they answer", async () => {
    assert.ok(steps.length >= 20, `the section's examples (${steps.length})`);
    for (let index = 0; index < steps.length; index++) {
      const step = steps[index]!;
      assert.match(step.command, /^grpcurl /, "the section holds grpcurl calls only");
      if (step.command.includes(PAGE_TOKEN_PLACEHOLDER)) {
        // The README cannot know the token: it is what the previous page printed.
        const previous = outcomes.at(-1)?.[1];
        const token = /"nextPageToken": "([^"]+)"/.exec(previous?.text ?? "")?.[1];
        assert.ok(token, `the page before ${step.command} printed a nextPageToken:\n${previous?.text}`);
        step.command = step.command.replace(PAGE_TOKEN_PLACEHOLDER, token);
      }
      let outcome: Outcome;
      if (step.command.includes("/WatchTodoList")) {
        const change = steps[++index]!;
        outcome = await watchWhile(step, async () => {
          const changed = await grpcurl(change.command);
          assert.ok(changed.ok, `${change.command}\n${changed.text}`);
          outcomes.push([change.command, changed]);
        });
      } else {
        outcome = await grpcurl(step.command);
      }
      outcomes.push([step.command, outcome]);
      const code = step.notes.map((note) => /Code: (\w+)/.exec(note)?.[1]).find((found) => found !== undefined);
      if (code === undefined) assert.ok(outcome.ok, `${step.command}\n${outcome.text}`);
      else {
        assert.equal(outcome.ok, false, `${step.command} fails`);
        assert.match(outcome.text, new RegExp(`Code: ${code}`), step.command);
      }
      for (const note of step.notes) {
        const reason = /^recq-reason: (\w+)$/.exec(note)?.[1];
        if (reason !== undefined) assert.match(outcome.text, new RegExp(`recq-reason: ${reason}`), step.command);
      }
    }
  }, 180_000);

  const outcomeOf = (pattern: RegExp): Outcome => {
    const found = outcomes.filter(([command]) => pattern.test(command));
    assert.ok(found.length > 0, `a README call matching ${pattern}`);
    return found[found.length - 1]![1];
  };

  it("lists and describes the services by reflection alone", () => {
    const listed = outcomeOf(/ list$/).text.split("\n").filter(Boolean);
    for (const service of ["todo.v1.TodoListCommandService", "todo.v1.TodoListQueryService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "recq.v1.HandlerLinkService"]) {
      assert.ok(listed.includes(service), `${service} in ${listed.join(", ")}`);
    }
    assert.match(outcomeOf(/describe todo\.v1\.TodoListQueryService$/).text, /rpc WatchTodoList \( \.todo\.v1\.WatchTodoList \) returns \( stream \.todo\.v1\.TodoListView \)/);
    assert.match(outcomeOf(/describe recq\.v1\.CommandAck$/).text, /message CommandAck/);
    assert.match(outcomeOf(/grpc\.health\.v1\.Health\/Check$/).text, /"status": "SERVING"/);
  });

  it("answers a repeated recq-command-id with the first ack", () => {
    const [first, again] = outcomes.filter(([command]) => command.includes("recq-command-id: create-chores-1")).map(([, outcome]) => outcome.text);
    assert.ok(first !== undefined && again !== undefined, "the README sends the command twice");
    assert.equal(again, first);
  });

  it("reads its own write with the consistency token, pages by token, and watches the views arrive", () => {
    const read = JSON.parse(outcomeOf(/recq-consistency-token: 6/).text) as { name: string; items: { itemId: string; completed?: boolean }[]; version: string };
    assert.equal(read.name, "Weekend groceries");
    assert.deepEqual(read.items.map((item) => [item.itemId, item.completed]), [["milk", true]]);
    assert.equal(read.version, "6");
    const pageIds = (pattern: RegExp) => (JSON.parse(outcomeOf(pattern).text) as { lists?: { listId: string }[] }).lists?.map((list) => list.listId);
    assert.deepEqual(pageIds(/"page_size":1}'/), ["chores"]);
    assert.deepEqual(pageIds(/"page_token":/), ["groceries"]);
    const watched = outcomeOf(/WatchTodoList$/).text;
    assert.match(watched, /"itemId": "eggs"/, "the second view has the item added while watching");
  });
});
