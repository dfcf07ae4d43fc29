// `npm start`: the gateway and the TodoList service on the embedded store, as two processes, with a note on
// how to call them. Ctrl-C stops both gracefully.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const root = path.resolve(__dirname, "..", "..");
const address = process.env.RECQ_ADDRESS ?? "127.0.0.1:50051";
// The HTTP port (Connect, gRPC-Web, Server-Sent Events: docs/web.md) is on here; RECQ_HTTP_ADDRESS moves it.
const httpAddress = process.env.RECQ_HTTP_ADDRESS ?? "127.0.0.1:8080";
// With it, the TodoList page at http://<RECQ_HTTP_ADDRESS>/ (RECQ_HTTP_PAGE=0 turns it off).
const env = { RECQ_HTTP_PAGE: "1", ...process.env, RECQ_ADDRESS: address, RECQ_GATEWAY: address, RECQ_HTTP_ADDRESS: httpAddress };

/** A built file of a workspace package, found by the package's name. */
function builtFile(packageName: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${packageName}/package.json`)), "dist", file);
}

function run(name: string, script: string, args: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [script, ...args], { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping`);
      stop(1);
    }
  });
  return child;
}

let stopping = false;
const children: ChildProcess[] = [];

function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill("SIGTERM");
  let left = children.length;
  for (const child of children) child.once("exit", () => --left === 0 && process.exit(code));
  setTimeout(() => process.exit(code), 15_000).unref();
}

process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

children.push(run("gateway", builtFile("@recq-mesh/gateway", "main.js"), ["--descriptors", builtFile("@recq-mesh/todo", "descriptors.binpb")]));
// The gateway binds in well under a second; the service retries its link with backoff anyway.
setTimeout(() => {
  children.push(run("todo", builtFile("@recq-mesh/todo", "main.js")));
  setTimeout(() => {
    console.log(`
RECQ Mesh is running on ${address} (${process.env.MONGODB_URI ? "state in MongoDB" : `embedded store in ${process.env.RECQ_DATA_DIR ?? "./data/gateway"}`}). Try:

  grpcurl -plaintext ${address} list
  grpcurl -plaintext -d '{"list_id":"groceries","name":"Groceries"}' ${address} todo.v1.TodoListCommandService/CreateTodoList
  grpcurl -plaintext -d '{"list_id":"groceries","item_id":"milk","text":"Milk"}' ${address} todo.v1.TodoListCommandService/AddTodoItem
  grpcurl -plaintext -d '{"list_id":"groceries"}' ${address} todo.v1.TodoListQueryService/GetTodoList
  curl -H 'content-type: application/json' -d '{"listId":"groceries"}' http://${httpAddress}/todo.v1.TodoListQueryService/GetTodoList

The TodoList page: http://${httpAddress}/ (docs/web.md)

Ctrl-C stops it.`);
  }, 1500);
}, 500);
