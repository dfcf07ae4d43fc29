import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GO } from "../support/tools";

/**
 * A client compiled from the contracts in another language: Go stubs made by buf with protoc-gen-go and
 * protoc-gen-go-grpc (test/clients/go), run against the real mesh. Reflection clients (grpcurl, the Python one)
 * read the gateway's descriptors at run time; this one has the contracts compiled in, so it checks that the wire
 * format, the metadata and the statuses are what the .proto files promise, to a client that never asks.
 */

const CLIENT = path.join(REPO, "test", "clients", "go");
/** protoc-gen-go-grpc is a module of its own; protoc-gen-go is taken at the runtime's version, from go.mod. */
const PROTOC_GEN_GO_GRPC = "google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2";
const BUF = path.join(REPO, "node_modules", ".bin", "buf");

/** The first build downloads the plugins' and the client's modules and fills Go's build cache: minutes, cold. */
const TOOL_TIMEOUT_MS = 240_000;
const SETUP_TIMEOUT_MS = 3 * TOOL_TIMEOUT_MS + 60_000;

const exec = promisify(execFile);

/** Runs one step of the setup, bounded; a failure says which step, with the tool's own output. */
async function step(what: string, command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeout ?? TOOL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout = "", stderr = "", signal } = error as { stdout?: string; stderr?: string; signal?: string };
    throw new Error(`${what} failed${signal ? ` (${signal}: timed out?)` : ""}: ${command} ${args.join(" ")}\n${stderr}${stdout}`);
  }
}

/** The version of google.golang.org/protobuf the client's go.mod pins: its protoc-gen-go must be the same. */
async function protobufVersion(): Promise<string> {
  const goMod = await readFile(path.join(CLIENT, "go.mod"), "utf8");
  const match = /^\s*google\.golang\.org\/protobuf (v\S+)/m.exec(goMod);
  assert.ok(match, "test/clients/go/go.mod requires google.golang.org/protobuf");
  return match[1];
}

/** What the Go client prints (test/clients/go/main.go). */
interface Observed {
  listId: string;
  acks: Record<"create" | "add" | "complete" | "rename" | "delete", { commandId: string; position: number; sequence: number }>;
  view: View;
  watch: { views: View[]; end: string };
  afterDelete: Record<"add" | "get", { code: string; message: string; reason: string; reasonIn: string }>;
}

interface View {
  listId: string;
  name: string;
  version: number;
  deleted: boolean;
  itemCount: number;
  completedCount: number;
  items: { itemId: string; text: string; completed: boolean }[];
}

describeWith(GO)("a generated Go client against the running mesh", () => {
  let work: Awaited<ReturnType<typeof tempDir>> | undefined;
  let data: Awaited<ReturnType<typeof tempDir>> | undefined;
  let mesh: RunningGateway | undefined;
  let todo: RunningTodo | undefined;
  let binary: string;

  beforeAll(async () => {
    work = await tempDir("go-client");
    // The plugins go to a GOBIN of the test's own, so neither the user's GOPATH/bin nor the PATH is touched.
    const gobin = path.join(work.dir, "bin");
    await mkdir(gobin);
    const env = { ...process.env, GOBIN: gobin, PATH: `${gobin}${path.delimiter}${process.env.PATH ?? ""}` };
    await step("installing protoc-gen-go", "go", ["install", `google.golang.org/protobuf/cmd/protoc-gen-go@${await protobufVersion()}`], { cwd: work.dir, env });
    await step("installing protoc-gen-go-grpc", "go", ["install", PROTOC_GEN_GO_GRPC], { cwd: work.dir, env });

    // The module is built from a copy laid out as in the repository, so the stubs (buf -o prefixes the template's
    // out, test/clients/go/gen) land beside it and nothing is written into the work tree.
    const module = path.join(work.dir, "src", "test", "clients", "go");
    await cp(CLIENT, module, { recursive: true, filter: (source) => path.basename(source) !== "gen" });
    await step(
      "buf generate",
      BUF,
      ["generate", "--template", path.join(CLIENT, "buf.gen.yaml"), "--path", "services/todo/proto/todo", "-o", path.join(work.dir, "src")],
      { cwd: REPO, env, timeout: 60_000 },
    );
    // The default -mod=readonly: a go.sum that does not cover the build fails here instead of being rewritten.
    binary = path.join(work.dir, "todoclient");
    await step("go build", "go", ["build", "-o", binary, "."], { cwd: module, env });

    data = await tempDir("go-client-data");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await todo?.mesh.drain();
    await mesh?.gateway.stop();
    await data?.remove();
    await work?.remove();
  });

  it("runs the TodoList scenario through compiled stubs: acks, read-your-writes, a watch, and the refusal after delete", async () => {
    const stdout = await step("the Go client", binary, ["-timeout", "10s", mesh!.address], { cwd: work!.dir, timeout: 60_000 });
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 1, `one JSON line, got:\n${stdout}`);
    const observed = JSON.parse(lines[0]) as Observed;
    const { listId, acks } = observed;
    assert.match(listId, /^go-[0-9a-z]+-[0-9a-f]{12}$/);

    // Our own command id came back in the ack; each command appended one event, in order.
    assert.equal(acks.create.commandId, `${listId}-create`);
    const order = ["create", "add", "complete", "rename", "delete"] as const;
    assert.deepEqual(order.map((name) => acks[name].sequence), [1, 2, 3, 4, 5]);
    const positions = order.map((name) => acks[name].position);
    assert.deepEqual([...positions].sort((a, b) => a - b), positions, "positions grow with each command");
    assert.equal(new Set(order.map((name) => acks[name].commandId)).size, order.length, "one command id each");
    // What the Go client was told is what the gateway stored.
    assert.equal((await mesh!.store.readAggregate("TodoList", listId)).sequence, 5);

    const completed = { listId, name: "Go groceries", version: 3, deleted: false, itemCount: 1, completedCount: 1, items: [{ itemId: "milk", text: "Milk", completed: true }] };
    assert.deepEqual(observed.view, completed, "the read with the consistency token saw the completed item at once");
    assert.deepEqual(observed.watch, {
      views: [completed, { ...completed, name: "Go groceries, renamed", version: 4 }, { ...completed, name: "Go groceries, renamed", version: 5, deleted: true }],
      end: "OK",
    });

    assert.deepEqual(observed.afterDelete.add, { code: "FailedPrecondition", message: `todo list ${listId} is deleted`, reason: "DOMAIN_RULE", reasonIn: "trailer" });
    assert.deepEqual(observed.afterDelete.get, { code: "NotFound", message: `todo list ${listId} does not exist`, reason: "DOMAIN_RULE", reasonIn: "trailer" });
  });
});
