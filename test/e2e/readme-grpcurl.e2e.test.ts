import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { markdownSection, shellSteps, type ShellStep } from "../support/markdown-commands";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GRPCURL, grpcurlEnv } from "../support/tools";

/**
 * The README's "Calling it with grpcurl" section, run with grpcurl exactly as written, in order, against one fresh
 * gateway and TodoList service in this process: the examples depend on each other (create, then add, then read…),
 * as they do for a person following them. Each command is the README's text with one change, the address
 * 127.0.0.1:50051 replaced by the test gateway's; grpcurl is found on the PATH the commands run with.
 *
 * What each call must do is read from the README itself:
 * - The comment lines right below a command are a remark, unless the first of them is `ERROR:` or starts with `…`
 *   (an abridged output): then they are what grpcurl prints, and each of them must be a line of its output, in
 *   that order (lines the README leaves out may come between). A call that prints `ERROR:` must fail (grpcurl
 *   exits non-zero); every other call must succeed.
 * - A ```json block right under a ```sh block is what that block's last command prints; any other ```json block
 *   shows the answer of the section's next command. The answer must be that JSON, field for field, a string
 *   holding `…` standing for any string.
 * - A remark that starts with "in another terminal" follows a subscription: the command keeps running, the next
 *   command is run meanwhile, and the subscription is stopped (SIGINT, as Ctrl-C does) once it has printed the
 *   view before and the view after that change.
 * - `<…>` in a command is a value an earlier answer printed; the one the section has is substituted (below).
 *
 * The README path can be given in RECQ_README_UNDER_TEST, to check that the test fails on a wrong example.
 */

const run = promisify(execFile);
const README = process.env.RECQ_README_UNDER_TEST ?? path.join(REPO, "README.md");
const SECTION = "Calling it with grpcurl";
/** The address every example names; the test's gateway listens on a port of its own. */
const README_ADDRESS = "127.0.0.1:50051";
/** The section's one placeholder: the value the page before printed, which no document can know. */
const PAGE_TOKEN_PLACEHOLDER = "<nextPageToken of the previous page>";
/** Each grpcurl call is bounded; a subscription's wait for each view too. */
const CALL_TIMEOUT_MS = 20_000;
const VIEW_TIMEOUT_MS = 15_000;


interface Step extends ShellStep {
  /** What the README shows it prints: the comment lines below it, when they are output. */
  printed?: string[];
  /** The JSON answer the README shows for it. */
  answer?: unknown;
  /** A subscription: the next step runs while it does. */
  subscription?: boolean;
}

interface Outcome {
  /** The command as run (the placeholder substituted, the address not yet replaced). */
  command: string;
  ok: boolean;
  stdout: string;
  /** stdout and stderr, as a terminal shows them (grpcurl prints its error last). */
  text: string;
}

/** The section's grpcurl lines, in order, each with what the README says it does. */
function readSteps(section: string): Step[] {
  const steps: Step[] = [];
  let pendingAnswer: unknown;
  let previousEnd = -1;
  let previousWasSh = false;
  for (const block of section.matchAll(/^```(\w*)\n[\s\S]*?^```$/gm)) {
    const rightUnder = previousWasSh && section.slice(previousEnd, block.index).trim() === "";
    if (block[1] === "sh") {
      for (const step of shellSteps(block[0]) as Step[]) {
        const [first] = step.notes;
        if (first !== undefined && (first === "ERROR:" || first.startsWith("…"))) step.printed = step.notes.filter((note) => !/^….*abridged/.test(note));
        step.subscription = first?.startsWith("in another terminal") ?? false;
        if (pendingAnswer !== undefined) [step.answer, pendingAnswer] = [pendingAnswer, undefined];
        steps.push(step);
      }
    } else if (block[1] === "json") {
      const shown: unknown = JSON.parse(block[0].replace(/^```json\n|```$/g, ""));
      if (rightUnder) steps[steps.length - 1]!.answer = shown;
      else pendingAnswer = shown;
    }
    previousEnd = block.index + block[0].length;
    previousWasSh = block[1] === "sh";
  }
  assert.equal(pendingAnswer, undefined, "every ```json block of the section shows a command's answer");
  return steps;
}

/** Asserts that an answer is the one the README shows: the same fields, a shown `…` standing for any string. */
function assertShown(actual: unknown, shown: unknown, where: string): void {
  if (typeof shown === "string" && shown.includes("…")) assert.equal(typeof actual, "string", `${where} is a string`);
  else if (Array.isArray(shown)) {
    assert.ok(Array.isArray(actual) && actual.length === shown.length, `${where}: ${JSON.stringify(actual)} has ${shown.length} elements`);
    shown.forEach((element, index) => assertShown(actual[index], element, `${where}[${index}]`));
  } else if (typeof shown === "object" && shown !== null) {
    assert.ok(typeof actual === "object" && actual !== null, `${where} is an object`);
    const record = actual as Record<string, unknown>;
    assert.deepEqual(Object.keys(record).sort(), Object.keys(shown).sort(), `${where}'s fields`);
    for (const [key, value] of Object.entries(shown)) assertShown(record[key], value, `${where}.${key}`);
  } else assert.deepEqual(actual, shown, where);
}

/** Asserts that each shown line is a line of the output, in that order (others may come between). */
function assertPrinted(text: string, printed: string[], command: string): void {
  const lines = text.split("\n").map((line) => line.trim());
  let from = 0;
  for (const shown of printed) {
    const at = lines.indexOf(shown.trim(), from);
    assert.ok(at >= 0, `${command}\nprints "${shown.trim()}" (after what the README shows before it); it printed:\n${text}`);
    from = at + 1;
  }
}

/** The top-level JSON objects grpcurl printed: each starts with `{` and ends with `}` at the start of a line. */
function answers(stdout: string): Record<string, unknown>[] {
  return [...stdout.matchAll(/^\{$[\s\S]*?^\}$/gm)].map((match) => JSON.parse(match[0]) as Record<string, unknown>);
}

/** The request JSON of a command (its `-d '…'`), or {} without one. */
function requestOf(command: string): Record<string, unknown> {
  const data = /-d '([^']*)'/.exec(command)?.[1];
  return data === undefined ? {} : (JSON.parse(data) as Record<string, unknown>);
}

describeWith(GRPCURL)("the README's grpcurl examples, verbatim, against the running mesh", () => {
  const section = markdownSection(README, SECTION);
  const steps = readSteps(section);
  /** Every call made, in order; the same command may be sent twice (a retry). */
  const outcomes: Outcome[] = [];
  /** The README's lines that were run, as written. */
  const ran: string[] = [];
  /** For each call with a `recq-command-id`: the list's sequence in the store right after it. */
  const sequenceAfter = new Map<Outcome, number>();
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    data = await tempDir("readme-grpcurl");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
    env = grpcurlEnv();
  });

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await data?.remove();
  });

  /** The command as the shell here runs it: the README's text, the test gateway's address in it. */
  function shellLine(command: string): string {
    assert.ok(command.includes(README_ADDRESS), `${command} names ${README_ADDRESS}`);
    return `exec ${command.replaceAll(README_ADDRESS, mesh!.address)}`;
  }

  async function call(command: string): Promise<Outcome> {
    return run("bash", ["-c", shellLine(command)], { env, timeout: CALL_TIMEOUT_MS, killSignal: "SIGKILL" }).then(
      ({ stdout, stderr }) => ({ command, ok: true, stdout, text: stdout + stderr }),
      (error: { stdout?: string; stderr?: string; message: string }) => ({
        command,
        ok: false,
        stdout: error.stdout ?? "",
        text: `${error.stdout ?? ""}${error.stderr ?? ""}` || error.message,
      }),
    );
  }

  /** A subscription, run until it has printed the view before and the view after `change`, then stopped as Ctrl-C does. */
  async function subscribe(command: string, change: () => Promise<void>): Promise<Outcome> {
    const child = spawn("bash", ["-c", shellLine(command)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let [stdout, stderr] = ["", ""];
    let exited = false;
    const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const printed = async (count: number) => {
      for (const until = Date.now() + VIEW_TIMEOUT_MS; answers(stdout).length < count; ) {
        assert.ok(!exited, `${command} ended after ${answers(stdout).length} views:\n${stdout}${stderr}`);
        assert.ok(Date.now() < until, `${command} printed ${answers(stdout).length} views, not ${count}, in ${VIEW_TIMEOUT_MS} ms:\n${stdout}${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      await printed(1);
      await change();
      await printed(2);
      assert.ok(!exited, `${command} still runs after the change`);
    } finally {
      child.kill("SIGINT");
      const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exit;
      clearTimeout(kill);
    }
    return { command, ok: true, stdout, text: stdout + stderr };
  }

  /** Runs one README line and asserts what the README says it does. */
  async function runStep(step: Step, change?: () => Promise<void>): Promise<void> {
    let command = step.command;
    if (command.includes(PAGE_TOKEN_PLACEHOLDER)) {
      // The README cannot know the token: it is what the page before printed, so the test takes it from there.
      const token = outcomes.at(-1)?.stdout.match(/"nextPageToken": "([^"]+)"/)?.[1];
      assert.ok(token, `the page before ${command} printed a nextPageToken:\n${outcomes.at(-1)?.text}`);
      command = command.replace(PAGE_TOKEN_PLACEHOLDER, token);
    }
    assert.doesNotMatch(command, /<[^>]*>/, "a placeholder this test does not know how to fill");
    ran.push(step.command);
    const outcome = step.subscription ? await subscribe(command, change!) : await call(command);
    outcomes.push(outcome);
    const fails = step.printed?.includes("ERROR:") ?? false;
    assert.equal(outcome.ok, !fails, `${command} ${fails ? "fails" : "succeeds"}:\n${outcome.text}`);
    if (step.printed) assertPrinted(outcome.text, step.printed, command);
    if (step.answer !== undefined) {
      const [answer] = answers(outcome.stdout);
      assertShown(answer, step.answer, `the answer of ${command}`);
    }
    if (command.includes("recq-command-id:")) {
      const listId = String(requestOf(command).list_id);
      sequenceAfter.set(outcome, (await mesh!.store.readAggregate("TodoList", listId)).sequence);
    }
  }

  /** The README's calls whose command matches, in order. */
  const outcomesOf = (pattern: RegExp): Outcome[] => outcomes.filter((outcome) => pattern.test(outcome.command));
  const lastOf = (pattern: RegExp): Outcome => {
    const found = outcomesOf(pattern);
    assert.ok(found.length > 0, `a README call matching ${pattern}`);
    return found[found.length - 1]!;
  };

  it("runs every grpcurl line of the section, in order, each answering as the README shows", async () => {
    assert.ok(steps.length >= 20, `the section's examples (${steps.length})`);
    for (let index = 0; index < steps.length; index++) {
      const step = steps[index]!;
      assert.match(step.command, /^grpcurl /, "the section's ```sh blocks hold grpcurl calls only");
      if (!step.subscription) await runStep(step);
      else {
        const change = steps[++index];
        assert.ok(change, `a command to run while ${step.command} runs`);
        await runStep(step, () => runStep(change));
      }
    }
  }, 120_000);

  it("lists what the README says `list` shows, and describes the methods and fields the README uses", () => {
    const listed = lastOf(/ list$/).stdout.split("\n").filter(Boolean).sort();
    // "`list` shows `…`, `…` and `…` (…). The older `…` is also served for older clients, but it is not listed."
    const paragraph = /^`list` shows [\s\S]*?(?=\n\n)/m.exec(section)?.[0];
    assert.ok(paragraph, "the section says what `list` shows");
    const [shows = "", older = ""] = paragraph.split("The older");
    const names = (text: string) => [...text.matchAll(/`(\w+(?:\.\w+)+)`/g)].map((match) => match[1]!);
    assert.deepEqual(listed, names(shows).sort());
    for (const name of names(older)) assert.ok(!listed.includes(name), `${name} is not listed`);

    // The command service's methods are the ones the section calls, and so are the query service's.
    const called = (service: string) => [...new Set(steps.flatMap((step) => [...step.command.matchAll(new RegExp(`${service}/(\\w+)`, "g"))].map((match) => match[1]!)))].sort();
    const commandMethods = lastOf(/ list todo\.v1\.TodoListCommandService$/).stdout.split("\n").filter(Boolean).map((line) => line.replace(/^todo\.v1\.TodoListCommandService\./, ""));
    // Moving an item is the item-transfer saga's work (docs/todo-list-spec.md), which this section's service does not run.
    const movingAnItem = new Set(["RequestTodoItemTransfer", "CompleteTodoItemTransfer", "CancelTodoItemTransfer"]);
    assert.deepEqual(commandMethods.filter((method) => !movingAnItem.has(method)).sort(), called("todo\\.v1\\.TodoListCommandService"));
    const queryService = lastOf(/ describe todo\.v1\.TodoListQueryService$/).stdout;
    const queryMethods = [...queryService.matchAll(/^\s*rpc (\w+) /gm)].map((match) => match[1]!);
    assert.deepEqual(queryMethods.sort(), called("todo\\.v1\\.TodoListQueryService"));
    assert.match(queryService, /rpc WatchTodoList \( \.todo\.v1\.WatchTodoList \) returns \( stream \.todo\.v1\.TodoListView \)/, "WatchTodoList streams");

    // ListTodoLists' fields are the rows of the README's table, in order; CommandAck's are the ack it shows.
    const fields = (described: string) => [...described.matchAll(/^\s+[.\w]+ (\w+) = \d+;$/gm)].map((match) => match[1]!);
    const tableRows = [...section.matchAll(/^\| `(\w+)` \|/gm)].map((match) => match[1]!);
    assert.deepEqual(fields(lastOf(/ describe todo\.v1\.ListTodoLists$/).stdout), tableRows);
    const shownAck = steps.find((step) => step.answer !== undefined && /CommandService\//.test(step.command))?.answer;
    assert.ok(shownAck, "the section shows a CommandAck");
    const camel = (name: string) => name.replace(/_(\w)/g, (_, letter: string) => letter.toUpperCase());
    assert.deepEqual(fields(lastOf(/ describe recq\.v1\.CommandAck$/).stdout).map(camel), Object.keys(shownAck));
  });

  it("reports the gateway and the linked TodoList command service SERVING", () => {
    const checks = outcomesOf(/grpc\.health\.v1\.Health\/Check$/);
    assert.equal(checks.length, 2);
    for (const check of checks) assert.deepEqual(answers(check.stdout), [{ status: "SERVING" }], check.command);
  });

  it("answers every command with a CommandAck, and a repeated recq-command-id with the first ack, executed once", () => {
    const commands = outcomesOf(/todo\.v1\.TodoListCommandService\//).filter((outcome) => outcome.ok);
    assert.ok(commands.length >= 8);
    for (const { command, stdout } of commands) assert.deepEqual(Object.keys(answers(stdout)[0] ?? {}), ["commandId", "position", "sequence"], command);

    const retried = outcomes.filter((outcome) => sequenceAfter.has(outcome));
    assert.ok(retried.length >= 2, "the README sends a command twice with the same recq-command-id");
    const [first, ...again] = retried;
    const id = /recq-command-id: ([^']+)'/.exec(first!.command)?.[1];
    assert.equal(answers(first!.stdout)[0]?.commandId, id, "the ack carries the caller's command id");
    for (const repeat of again) {
      assert.equal(repeat.command, first!.command, "the same command, the same id");
      assert.deepEqual(answers(repeat.stdout), answers(first!.stdout), "the recorded ack");
      assert.equal(sequenceAfter.get(repeat), sequenceAfter.get(first!), "nothing executed twice");
    }
  });

  it("reads its own writes with the README's consistency tokens: each the position of the last command the read must see", () => {
    const reads = outcomesOf(/recq-consistency-token: /);
    assert.ok(reads.length >= 2, "the README reads a list and lists every list with a token");
    for (const read of reads) {
      const token = /recq-consistency-token: (\d+)/.exec(read.command)?.[1];
      // A read of one list must see that list's last command; a read of every list, the last command of all.
      const listId = requestOf(read.command).list_id;
      const before = outcomes.slice(0, outcomes.indexOf(read));
      const last = before
        .filter((outcome) => outcome.ok && /CommandService\//.test(outcome.command) && (listId === undefined || requestOf(outcome.command).list_id === listId))
        .at(-1);
      assert.ok(last, `a command before ${read.command}`);
      assert.equal(answers(last.stdout)[0]?.position, token, `the README's token in ${read.command} is the ack's position of ${last.command}`);
    }
  });

  it("filters and pages ListTodoLists as the README's comments say", () => {
    const pages = outcomesOf(/\/ListTodoLists$/).map((outcome) => answers(outcome.stdout)[0] as { lists?: { listId: string; name: string }[]; nextPageToken?: string });
    assert.equal(pages.length, 4);
    const [every, filtered, firstPage, nextPage] = pages.map((page) => page.lists?.map((list) => list.listId));
    assert.deepEqual(every, ["groceries", "chores"], "every list, oldest first");
    assert.deepEqual(filtered, ["groceries"], `"gro" in the name, every item completed`);
    assert.deepEqual(firstPage, ["chores"], "one list per page, by name");
    assert.deepEqual(nextPage, ["groceries"], "the next page");
    assert.ok(pages[2]?.nextPageToken, "a page before the last has a nextPageToken");
    assert.equal(pages[3]?.nextPageToken, undefined, "the last page has no nextPageToken");
  });

  it("streams WatchTodoList: the current view, then the view after the change made meanwhile", () => {
    const [before, after] = answers(lastOf(/\/WatchTodoList$/).stdout) as { listId: string; items: { itemId: string }[]; version: string }[];
    assert.ok(before && after);
    assert.equal(before.listId, "groceries");
    assert.deepEqual(before.items.map((item) => item.itemId), ["milk"]);
    assert.deepEqual(after.items.map((item) => item.itemId), ["milk", "eggs"]);
    assert.equal(Number(after.version), Number(before.version) + 1);
  });

  it("shows at least one refusal with its status and recq-reason trailer, run with -v", () => {
    const refused = steps.filter((step) => step.printed?.some((line) => /^\s*Code: \w+$/.test(line)));
    assert.ok(refused.length >= 2, "the README shows refused calls");
    assert.ok(refused.some((step) => step.command.startsWith("grpcurl -v ") && step.printed?.some((line) => /^recq-reason: [A-Z_]+$/.test(line))));
  });

  it("has run every grpcurl line of the section", () => {
    assert.deepEqual(ran, steps.map((step) => step.command));
  });
});
