import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { startProcess, type BackgroundProcess } from "../support/background-process";
import { fencedBlocks, shellCommands } from "../support/markdown-commands";
import { ReflectionClient } from "../support/reflection-client";
import { REPO } from "../support/repository";
import { itWith } from "../support/required-tool";
import { DOCKER_COMPOSE, GRPCURL, GRPCURL_PATH } from "../support/tools";

const run = promisify(execFile);
const GUIDE = path.join(REPO, "docs", "your-own-domain.md");
const EXAMPLE = path.join(REPO, "examples", "library");
const PUBLISHED = ["@recq-mesh/protocol", "@recq-mesh/gateway", "@recq-mesh/kit"] as const;
/** The address the guide's commands name; the test's gateway listens on a port of its own instead. */
const GUIDE_ADDRESS = "127.0.0.1:50051";
/** What the test's own copy of the example never takes from the repository: what the guide's commands make. */
const MADE_BY_COMMANDS = new Set(["package.json", "package-lock.json", "node_modules", "dist", "gen", "data"]);

/**
 * The environment of every command: this process's, without what `npm test` adds for its own run (an npm_config_*
 * would steer the user's npm), and never the environment's MongoDB.
 */
function userEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_")));
  return { ...env, MONGODB_URI: "", ...extra };
}

interface Packed {
  name: string;
  filename: string;
  files: { path: string }[];
}

/**
 * A user's project, as the guide builds it: the published packages packed into tarballs, the guide's commands run
 * in order in a folder outside the repository (the packages' names in `npm install` standing for their tarballs),
 * the example's files written where the guide shows them.
 */
describe("the published packages, as a user builds a domain on them (docs/your-own-domain.md)", () => {
  let temp: string;
  let app: string;
  let packed: Packed[];
  let gateway: BackgroundProcess | undefined;
  let service: BackgroundProcess | undefined;
  let address: string;
  const commands = shellCommands(GUIDE);
  const ran: string[] = [];

  async function sh(command: string, cwd: string, timeout = 180_000): Promise<{ stdout: string; stderr: string }> {
    ran.push(command);
    try {
      return await run("bash", ["-c", command], { cwd, env: userEnvironment(), timeout, maxBuffer: 16 * 1024 * 1024 });
    } catch (error: unknown) {
      const failed = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${command}\nfailed: ${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`);
    }
  }

  function tarballOf(name: string): string {
    const pack = packed.find((p) => p.name === name);
    assert.ok(pack, `${name} was packed`);
    return path.join(temp, "packs", pack.filename);
  }

  /** An `npm install` of the guide, with each published package's name standing for its tarball. */
  function withTarballs(command: string): string {
    return command.replace(/@recq-mesh\/(protocol|gateway|kit)(?![\w/@-])/g, (name) => tarballOf(name));
  }

  beforeAll(async () => {
    temp = await mkdtemp(path.join(os.tmpdir(), "recq-user-"));
    await mkdir(path.join(temp, "packs"));
    const { stdout } = await run("npm", ["pack", ...PUBLISHED.flatMap((name) => ["-w", name]), "--pack-destination", path.join(temp, "packs"), "--json"], {
      cwd: REPO,
      env: userEnvironment(),
      timeout: 120_000,
    });
    packed = JSON.parse(stdout) as Packed[];
  }, 180_000);

  afterAll(async () => {
    await service?.stop();
    await gateway?.stop();
    if (temp !== undefined) await rm(temp, { recursive: true, force: true });
  });

  it("packs each package with its build, types, contracts and command, and nothing of its sources or tests", () => {
    const files = (name: string) => new Set(packed.find((p) => p.name === name)?.files.map((file) => file.path));
    for (const name of PUBLISHED) {
      const contents = files(name);
      assert.ok(contents.has("dist/index.js") && contents.has("dist/index.d.ts") && contents.has("README.md"), `${name}: index, types, README`);
      assert.ok([...contents].every((file) => !file.endsWith(".ts") || file.endsWith(".d.ts")), `${name} ships no TypeScript sources`);
      assert.ok([...contents].every((file) => !file.includes("test")), `${name} ships no tests`);
    }
    const protocol = files("@recq-mesh/protocol");
    for (const proto of ["command", "event", "link", "options"]) {
      assert.ok(protocol.has(`proto/recq/v1/${proto}.proto`), `the protocol ships recq/v1/${proto}.proto`);
      assert.ok(protocol.has(`dist/gen/recq/v1/${proto}.d.ts`), `and its generated code`);
    }
    const gatewayFiles = files("@recq-mesh/gateway");
    assert.ok(gatewayFiles.has("dist/main.js") && gatewayFiles.has("dist/gateway-services.binpb"));
    const manifest = JSON.parse(readFileSync(path.join(REPO, "services", "gateway", "package.json"), "utf8")) as { bin: Record<string, string> };
    assert.equal(manifest.bin["recq-gateway"], "dist/main.js");
  });

  it("shows the example's own files in the guide, as they are", () => {
    const shown = fencedBlocks(GUIDE)
      .map((block) => ({ file: /title="([^"]+)"/.exec(block.info)?.[1], text: block.text }))
      .filter((block): block is { file: string; text: string } => block.file !== undefined);
    assert.ok(shown.length >= 8, "the guide shows the example's files");
    for (const { file, text } of shown) assert.equal(text, readFileSync(path.join(EXAMPLE, file), "utf8"), `the guide's ${file} is examples/library/${file}`);
  });

  it("sets the project up with the guide's commands, from the tarballs, into the example's package.json", async () => {
    const setup = commands.slice(0, commands.findIndex((command) => command.startsWith("npx buf lint")));
    const [first, ...rest] = setup;
    const folder = /^mkdir (\S+) && cd \1$/.exec(first ?? "");
    assert.ok(folder, `the guide starts in a new folder: ${first}`);
    app = path.join(temp, folder[1]!);
    await sh(`mkdir ${folder[1]}`, temp);
    ran[ran.length - 1] = first!;
    for (const command of rest) {
      assert.match(command, /^npm (init|install|pkg) /, `a set-up command this test knows how to run: ${command}`);
      await sh(command.startsWith("npm install") ? withTarballs(command) : command, app);
      if (command.startsWith("npm install")) ran[ran.length - 1] = command;
    }
    // What the guide's commands made is the example's own package.json: the same scripts, the same packages.
    const made = JSON.parse(readFileSync(path.join(app, "package.json"), "utf8")) as Manifest;
    const example = JSON.parse(readFileSync(path.join(EXAMPLE, "package.json"), "utf8")) as Manifest;
    assert.deepEqual(made.scripts, { ...example.scripts, test: made.scripts.test });
    assert.deepEqual(Object.keys(made.dependencies).sort(), Object.keys(example.dependencies).sort());
    assert.deepEqual(Object.keys(made.devDependencies).sort(), Object.keys(example.devDependencies).sort());
    // The files the guide shows, and the rest of the example's sources.
    await cp(EXAMPLE, app, { recursive: true, filter: (source) => !MADE_BY_COMMANDS.has(path.relative(EXAMPLE, source).split(path.sep)[0] ?? "") });
  }, 300_000);

  it("lints, generates and builds the project with the guide's commands", async () => {
    for (const command of ["npx buf lint", "npm run build"]) {
      assert.ok(commands.includes(command), `the guide runs ${command}`);
      await sh(command, app);
    }
    assert.ok(existsSync(path.join(app, "dist", "library.binpb")));
    // The generated code takes the mesh's types from @recq-mesh/protocol instead of generating them again.
    assert.match(readFileSync(path.join(app, "gen", "library", "v1", "commands.ts"), "utf8"), /from "@recq-mesh\/protocol\/gen\/recq\/v1\/command"/);
    assert.equal(existsSync(path.join(app, "gen", "recq")), false);
  }, 300_000);

  it("runs the gateway with npx recq-gateway and the service with npm start, as the guide does", async () => {
    const gatewayCommand = "npx recq-gateway --descriptors dist/library.binpb";
    assert.ok(commands.includes(gatewayCommand) && commands.includes("npm start"));
    ran.push(gatewayCommand, "npm start");
    // The guide's command as written; the address and data folder come from the environment, as they may.
    gateway = await startProcess("bash", ["-c", `exec ${gatewayCommand}`], {
      cwd: app,
      env: userEnvironment({ RECQ_ADDRESS: "127.0.0.1:0", RECQ_DATA_DIR: path.join(temp, "gateway-data") }),
      ready: /"message":"gateway ready".*"port":(\d+)/,
    });
    address = `127.0.0.1:${gateway.ready[1]}`;
    service = await startProcess("bash", ["-c", "exec npm start"], { cwd: app, env: userEnvironment({ RECQ_GATEWAY: address }), ready: /library service linked/ });
  });

  it("answers a client that knows nothing but reflection: commands, a refusal, a read of its own write, a subscription", async () => {
    const client = new ReflectionClient(address);
    try {
      const services = await client.listServices();
      assert.ok(services.includes("library.v1.BookCommandService") && services.includes("library.v1.BookQueryService"), services.join(", "));
      assert.ok(services.includes("grpc.health.v1.Health"), "the gateway serves health without the user's set carrying it");
      const watch = await client.describe("library.v1.BookQueryService.WatchBook");
      assert.ok(watch.kind === "method" && watch.serverStreaming);

      const command = (method: string, json: object) => client.unary(`library.v1.BookCommandService/${method}`, json);
      const registered = await command("RegisterBook", { book_id: "b-1", title: "Solaris", author: "Stanisław Lem" });
      assert.ok(registered.ok, registered.details);
      await command("RegisterBook", { book_id: "b-2", title: "The Cyberiad", author: "Stanisław Lem" });
      const lent = await command("LendBook", { book_id: "b-1", member_id: "m-1" });
      assert.ok(lent.ok, lent.details);

      const again = await command("LendBook", { book_id: "b-1", member_id: "m-2" });
      assert.equal(again.ok, false);
      assert.equal(again.code, 9, "FAILED_PRECONDITION");
      assert.match(again.details, /already lent to member m-1/);
      assert.equal(again.trailers["recq-reason"], "DOMAIN_RULE");
      const unknown = await command("ReturnBook", { book_id: "b-404" });
      assert.equal(unknown.code, 5, "NOT_FOUND");

      const position = (lent.response as { position: string }).position;
      const read = await client.unary("library.v1.BookQueryService/GetBook", { book_id: "b-1" }, { metadata: { "recq-consistency-token": position } });
      assert.ok(read.ok, read.details);
      assert.deepEqual(pick(read.response, ["book_id", "available", "borrower_id"]), { book_id: "b-1", borrower_id: "m-1" });

      const shelf = await client.unary("library.v1.BookQueryService/ListBooks", { author: "Stanisław Lem", available_only: true });
      assert.deepEqual((shelf.response as { books: { book_id: string }[] }).books.map((book) => book.book_id), ["b-2"]);

      // The subscription answers the view first; the return, sent once that view came, is the change it then sends.
      let firstView: () => void = () => undefined;
      const viewed = new Promise<void>((resolve) => (firstView = resolve));
      const watching = client.serverStream("library.v1.BookQueryService/WatchBook", { book_id: "b-1" }, { take: 2, deadlineMs: 20_000, onMessage: () => firstView() });
      await Promise.race([viewed, watching]);
      assert.ok((await command("ReturnBook", { book_id: "b-1" })).ok);
      const stream = await watching;
      assert.ok(stream.ok, stream.details);
      assert.deepEqual(
        stream.messages.map((view) => pick(view, ["available", "borrower_id"])),
        [{ borrower_id: "m-1" }, { available: true }],
      );
    } finally {
      client.close();
    }
  });

  itWith(GRPCURL)("answers the guide's grpcurl calls as the guide says", async () => {
    const calls = commands.filter((command) => command.startsWith("grpcurl "));
    assert.ok(calls.length >= 6);
    const grpcurl = GRPCURL_PATH!;
    for (const call of calls) {
      ran.push(call);
      const expected = /# fails: (\w+)$/.exec(call)?.[1];
      const line: string = call.replace(/^grpcurl /, `${grpcurl} `).replaceAll(GUIDE_ADDRESS, address);
      const outcome: { ok: boolean; text: string } = await run("bash", ["-c", line], { cwd: app, env: userEnvironment(), timeout: 30_000 }).then(
        (result) => ({ ok: true, text: result.stdout + result.stderr }),
        (error: { stdout?: string; stderr?: string }) => ({ ok: false, text: `${error.stdout ?? ""}${error.stderr ?? ""}` }),
      );
      if (expected === undefined) assert.ok(outcome.ok, `${call}\n${outcome.text}`);
      else {
        assert.equal(outcome.ok, false, `${call} fails`);
        assert.match(outcome.text, new RegExp(`Code: ${expected}`), call);
      }
    }
  });

  it("gives an image that serves what is mounted on /descriptors", () => {
    const dockerRun = commands.find((command) => command.startsWith("docker run "));
    assert.ok(dockerRun);
    ran.push(dockerRun);
    // No Docker engine runs here: the mount is checked against the image's setting instead of being run.
    assert.match(readFileSync(path.join(REPO, "Dockerfile"), "utf8"), /^ENV RECQ_DESCRIPTORS=\/descriptors$/m);
    assert.match(dockerRun, /-v "\$PWD\/dist:\/descriptors:ro" recq-mesh$/);
  });

  itWith(DOCKER_COMPOSE)("gives a compose file that docker-compose accepts", async () => {
    await run("docker-compose", ["-f", path.join(app, "docker-compose.yml"), "config", "-q"], { cwd: app });
  });

  it("has run every command of the guide", () => {
    // grpcurl's calls are the only ones a machine without the tool leaves out (and says so above).
    const skipped = (command: string) => !GRPCURL.available && command.startsWith("grpcurl ");
    assert.deepEqual(commands.filter((command) => !ran.includes(command) && !skipped(command)), []);
  });

  it("stops the service and the gateway cleanly, as Ctrl-C does", async () => {
    // npm and npx die of the signal themselves: the service's and the gateway's own logs tell how they ended.
    await service?.stop();
    assert.match(service?.output() ?? "", /"message":"draining"/);
    assert.doesNotMatch(service?.output() ?? "", /"level":"error"/);
    await gateway?.stop();
    assert.match(gateway?.output() ?? "", /"message":"gateway stopped"/);
  });
});

interface Manifest {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** The named fields of a JSON answer that it has (proto3 JSON leaves out default values). */
function pick(value: unknown, keys: readonly string[]): Record<string, unknown> {
  const record = value as Record<string, unknown>;
  return Object.fromEntries(keys.filter((key) => record[key] !== undefined).map((key) => [key, record[key]]));
}
