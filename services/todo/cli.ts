// The TodoList from a terminal, written with the kit's Invoker: `npm run todo -- create "Groceries"` (README).
import { status } from "@grpc/grpc-js";
import { Invoker, linkSecurityFromEnv, MeshError } from "@recq-mesh/kit";
import { runTodoCli } from "./src/cli/todo-cli";
import { parseTodoCliArguments } from "./src/cli/todo-cli-arguments";

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseTodoCliArguments(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  // TLS towards the gateway as the TodoList service reads it (RECQ_TLS_*); the caller's token is RECQ_CLIENT_TOKEN.
  const { tls } = linkSecurityFromEnv({ ...process.env, RECQ_LINK_TOKEN: undefined, RECQ_LINK_TOKEN_FILE: undefined });
  const invoker = Invoker.forGateway({ address: parsed.gateway ?? (process.env.RECQ_GATEWAY || "127.0.0.1:50051"), tls, token: process.env.RECQ_CLIENT_TOKEN || undefined });
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());
  try {
    await runTodoCli(parsed.command, invoker, { print: (line) => process.stdout.write(`${line}\n`), signal: stop.signal });
    return 0;
  } catch (thrown) {
    const error = MeshError.from(thrown);
    process.stderr.write(`error: ${status[error.code]}: ${error.message}\n`);
    return 1;
  } finally {
    invoker.close();
  }
}

void main().then((code) => (process.exitCode = code));
