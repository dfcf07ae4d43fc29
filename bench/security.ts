// `npm run bench:security [-- seconds rounds]`: what checking callers costs the gateway per call — open, the simple
// mode's shared token (RECQ_CLIENT_TOKEN), and a JWT (HS256) checked against a security file's permission table
// (the token verified once, then found in the gateway's cache of verified tokens). GetTodoList through the gateway
// to a linked handler answering a fixed view, h2load at 4 connections × 25 streams, plaintext; rounds interleaved.
// Prints the figures; asserts nothing. Run by hand on a quiet machine.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SignJWT } from "jose";
import { credentials, Metadata } from "@grpc/grpc-js";
import { GetTodoList, TodoListQueryServiceClient } from "@recq-mesh/todo/gen/todo/v1/queries";
import { h2load } from "./lib/h2load";
import { startMesh } from "./lib/mesh";
import { cpuMicros } from "./lib/processes";

const PATH = "/todo.v1.TodoListQueryService/GetTodoList";
const SECRET = "a bench secret of at least thirty-two bytes for HS256";

interface Mode {
  name: string;
  gatewayEnv: Record<string, string>;
  headers: Record<string, string>;
}

async function modes(dir: string): Promise<Mode[]> {
  writeFileSync(path.join(dir, "jwt.secret"), SECRET);
  const policy = {
    callers: {
      jwt: { secretFile: "jwt.secret", issuer: "bench", audience: "recq-gateway" },
      permissions: { "todo.v1.TodoListQueryService/*": ["todo:read"] },
    },
  };
  writeFileSync(path.join(dir, "security.json"), JSON.stringify(policy));
  const token = await new SignJWT({ scope: "todo:read" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("bench")
    .setIssuer("bench")
    .setAudience("recq-gateway")
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(SECRET));
  return [
    { name: "open", gatewayEnv: {}, headers: {} },
    { name: "shared token", gatewayEnv: { RECQ_CLIENT_TOKEN: "bench-token" }, headers: { authorization: "Bearer bench-token" } },
    { name: "JWT + permissions", gatewayEnv: { RECQ_SECURITY_FILE: path.join(dir, "security.json") }, headers: { authorization: `Bearer ${token}` } },
  ];
}

function answered(address: string, headers: Record<string, string>): Promise<void> {
  const client = new TodoListQueryServiceClient(address, credentials.createInsecure());
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return new Promise<void>((resolve, reject) =>
    client.getTodoList({ listId: "bench-list" }, metadata, (error) => {
      client.close();
      if (error) reject(error);
      else resolve();
    }),
  );
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const rounds = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(path.join(os.tmpdir(), "recq-bench-security-"));
  const message = GetTodoList.encode({ listId: "bench-list" }).finish();
  const figures = new Map<string, { perSecond: number[]; cpuMicros: number[] }>();
  try {
    const all = await modes(dir);
    for (let round = 0; round < rounds; round++) {
      for (const mode of all) {
        const mesh = await startMesh("fixed-query", mode.gatewayEnv);
        try {
          // h2load counts a gRPC error as a success (HTTP 200): check once that the mode's calls are answered.
          await answered(mesh.address, mode.headers);
          const before = cpuMicros(mesh.gateway.child.pid!);
          const result = await h2load({ address: mesh.address, path: PATH, message, connections: 4, streams: 25, durationSeconds: seconds, headers: mode.headers });
          // h2load's 1 s warm-up is load too.
          const calls = result.succeeded * ((seconds + 1) / seconds);
          const entry = figures.get(mode.name) ?? { perSecond: [], cpuMicros: [] };
          entry.perSecond.push(result.perSecond);
          entry.cpuMicros.push((cpuMicros(mesh.gateway.child.pid!) - before) / calls);
          figures.set(mode.name, entry);
        } finally {
          await mesh.stop();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  console.log(`GetTodoList through the gateway, ${seconds} s × ${rounds} rounds per mode (median), 4 connections × 25 streams`);
  console.log("mode                 calls/s   gateway CPU µs/call");
  for (const [name, entry] of figures) {
    console.log(`${name.padEnd(20)} ${median(entry.perSecond).toFixed(0).padStart(7)}   ${median(entry.cpuMicros).toFixed(1).padStart(19)}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
