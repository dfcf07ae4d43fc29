import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, it } from "@jest/globals";
import { startGateway, startTodo, tempDir, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { REPO } from "../support/repository";
import { describeWith } from "../support/required-tool";
import { GO } from "../support/tools";

const run = promisify(execFile);
const CLIENT = path.join(REPO, "examples", "clients", "go");
/** The Go plugins buf runs, pinned: what the stubs are generated with. */
const PLUGINS = ["google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12", "google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1"];

interface Observed {
  list_id: string;
  position: number;
  read_version: number;
  read_completed: boolean;
  watched_names: string[];
  refused_code: string;
  refused_reason: string;
  refused_message: string;
}

/**
 * A client generated from the contracts in another language (Go: buf with protoc-gen-go and protoc-gen-go-grpc,
 * google.golang.org/grpc) runs the TodoList scenario through the gateway: the contracts serve generated stubs,
 * not only reflection clients.
 */
describeWith(GO)("a generated Go client, against the running mesh", () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;
  let binary: string;

  beforeAll(async () => {
    temp = await tempDir("go-client");
    const gobin = path.join(temp.dir, "bin");
    const env = { ...process.env, GOBIN: gobin, PATH: `${gobin}${path.delimiter}${process.env.PATH ?? ""}` };
    // A cold module cache downloads grpc and protobuf from the module proxy: minutes, not seconds.
    for (const plugin of PLUGINS) await run("go", ["install", plugin], { env, timeout: 300_000 });
    await run(
      path.join(REPO, "node_modules", ".bin", "buf"),
      ["generate", "--template", "examples/clients/go/buf.gen.yaml", "--path", "services/protocol/proto/recq", "--path", "services/todo/proto/todo"],
      { cwd: REPO, env, timeout: 60_000 },
    );
    binary = path.join(temp.dir, "todoclient");
    await run("go", ["build", "-o", binary, "."], { cwd: CLIENT, env, timeout: 300_000 });
    mesh = await startGateway(path.join(temp.dir, "gateway"));
    todo = await startTodo(mesh.address);
  }, 900_000);

  afterAll(async () => {
    todo?.mesh.close();
    await mesh?.gateway.stop();
    await temp?.remove();
  });

  it("creates, adds, completes, reads its own write, watches, deletes, and is refused after the delete", async () => {
    const { stdout } = await run(binary, [mesh.address], { timeout: 60_000 });
    const seen = JSON.parse(stdout) as Observed;
    assert.equal(seen.read_completed, true);
    assert.ok(seen.read_version >= 3 && seen.position >= 3, `read version ${seen.read_version} at position ${seen.position}`);
    assert.deepEqual(seen.watched_names, ["From Go", "Renamed from Go"]);
    assert.equal(seen.refused_code, "FailedPrecondition");
    assert.equal(seen.refused_reason, "DOMAIN_RULE");
    assert.equal(seen.refused_message, `todo list ${seen.list_id} is deleted`);
  });
});
