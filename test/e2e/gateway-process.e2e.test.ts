import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { GATEWAY_MAIN, TODO_DESCRIPTORS as DESCRIPTORS, TODO_MAIN } from "../support/built-packages";
import { spawnGateway, type GatewayProcess } from "../support/gateway-process";
import { call, eventually, startGateway, startTodo, tempDir, todoClients, type RunningTodo } from "../support/mesh-harness";
import { freePort } from "../support/free-port";



describe("the gateway as a process", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let gateway: GatewayProcess | undefined;
  let todo: RunningTodo | undefined;

  beforeAll(async () => {
    data = await tempDir("process");
  });

  afterAll(async () => {
    todo?.mesh.close();
    gateway?.child.kill("SIGKILL");
    await gateway?.exited;
    await data.remove();
  });

  it("after kill -9, finds every acknowledged command, and the handler relinks by itself", async () => {
    gateway = await spawnGateway(data.dir, 0);
    const address = `127.0.0.1:${gateway.port}`;
    todo = await startTodo(address, { roles: ["commands"] });
    const clients = todoClients(address);
    try {
      await call(clients.commands, clients.commands.createTodoList, { listId: "crash", name: "Crash" });
      const acks = await Promise.all(
        Array.from({ length: 20 }, (_, i) => call(clients.commands, clients.commands.addTodoItem, { listId: "crash", itemId: `i${i}`, text: "x" })),
      );
      assert.equal(Math.max(...acks.map((a) => Number(a.sequence))), 21);

      gateway.child.kill("SIGKILL");
      await gateway.exited;
      gateway = await spawnGateway(data.dir, gateway.port);

      const ack = await eventually(() => call(clients.commands, clients.commands.addTodoItem, { listId: "crash", itemId: "after", text: "x" }), 10_000);
      assert.equal(ack.sequence, "22", "the history survived the crash");
      assert.equal(ack.position, "22");
    } finally {
      clients.close();
    }
  });

  it("exports its spans over OTLP/gRPC when OTEL_EXPORTER_OTLP_ENDPOINT is set", async () => {
    const exports: Buffer[] = [];
    const collector = new Server();
    collector.addService(
      {
        export: {
          path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      {
        export: (request: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
          exports.push(request.request);
          callback(null, Buffer.alloc(0));
        },
      },
    );
    const collectorPort = await new Promise<number>((resolve, reject) =>
      collector.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    todo?.mesh.close();
    gateway?.child.kill("SIGKILL");
    await gateway?.exited;
    gateway = await spawnGateway(data.dir, 0, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`, OTEL_BSP_SCHEDULE_DELAY: "100" });
    const address = `127.0.0.1:${gateway.port}`;
    todo = await startTodo(address, { roles: ["commands"] });
    const clients = todoClients(address);
    try {
      await call(clients.commands, clients.commands.createTodoList, { listId: "exported", name: "Exported" });
      await eventually(async () => assert.ok(exports.some((b) => b.includes("todo.v1.TodoListCommandService/CreateTodoList") && b.includes("recq.event.append"))), 10_000);
      assert.ok(exports.some((b) => b.includes("recq-gateway")), "the resource names the service");
    } finally {
      clients.close();
      collector.forceShutdown();
    }
  });
});

describe("the TodoList service as a process", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    data = await tempDir("todo-process");
  });

  afterAll(async () => {
    await data.remove();
  });

  it("waits for a gateway that is not up yet, links once it is, and drains and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const todo = spawn(process.execPath, [TODO_MAIN], {
      env: { ...process.env, MONGODB_URI: "", RECQ_GATEWAY: `127.0.0.1:${port}`, RECQ_LOG_LEVEL: "warn" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => todo.once("exit", (code) => resolve(code)));
    let mesh: Awaited<ReturnType<typeof startGateway>> | undefined;
    try {
      // No gateway for a while: the service must keep trying, not exit.
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(todo.exitCode, null, "the service is still running");
      mesh = await startGateway(data.dir, { port });
      await eventually(async () => assert.equal(mesh!.gateway.handlerLinkCount, 1), 10_000);
      const clients = todoClients(mesh.address);
      try {
        const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "process", name: "P" });
        assert.equal(ack.sequence, "1");
      } finally {
        clients.close();
      }
      todo.kill("SIGTERM");
      assert.equal(await exited, 0);
      await eventually(async () => assert.equal(mesh!.gateway.handlerLinkCount, 0));
    } finally {
      if (todo.exitCode === null) todo.kill("SIGKILL");
      await mesh?.gateway.stop();
    }
  });
});

describe("the recq-gateway command line", () => {
  const runGateway = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [GATEWAY_MAIN, ...args], { env: { ...process.env, MONGODB_URI: "" }, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
      child.once("exit", (code) => {
        clearTimeout(kill);
        resolve({ code, stdout, stderr });
      });
    });

  it("prints its flags for --help and its version for --version, and serves nothing", async () => {
    const help = await runGateway(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: recq-gateway/);
    for (const flag of ["--address", "--descriptors", "--data-dir"]) assert.match(help.stdout, new RegExp(flag));
    const version = await runGateway(["--version"]);
    assert.equal(version.code, 0);
    const manifest = JSON.parse(readFileSync(require.resolve("@recq-mesh/gateway/package.json"), "utf8")) as { version: string };
    assert.equal(version.stdout, `${manifest.version}\n`);
  });

  it("refuses an unknown flag, and a descriptor set that is not there, with a message and exit status 1", async () => {
    const unknown = await runGateway(["--descriptor", DESCRIPTORS]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /gateway failed to start: .*--descriptor/);
    const data = await tempDir("missing-set");
    try {
      const missing = await runGateway(["--address", "127.0.0.1:0", "--data-dir", data.dir, "--descriptors", `${DESCRIPTORS},${data.dir}/none.binpb`]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /gateway failed to start: descriptor set .*none\.binpb: no such file or folder/);
      const bad = `${data.dir}/bad.binpb`;
      writeFileSync(bad, "not a descriptor set");
      const refused = await runGateway(["--address", "127.0.0.1:0", "--data-dir", data.dir, "--descriptors", `${DESCRIPTORS},${bad}`]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /descriptor set 2: the bytes are not a FileDescriptorSet.*\(descriptor sets: 1 = .*descriptors\.binpb, 2 = .*bad\.binpb\)/);
    } finally {
      await data.remove();
    }
  });
});
