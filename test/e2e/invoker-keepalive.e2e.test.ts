import assert from "node:assert/strict";
import net from "node:net";
import { it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { Invoker, MeshError } from "@recq-mesh/kit";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoListQueryServiceService } from "@recq-mesh/todo/gen/todo/v1/queries";
import { closeHandlers, startGateway, startTodo, tempDir } from "../support/mesh-harness";

/** A TCP relay to `target` that can go silent: it keeps every connection open but forwards nothing more, as a cut network does. */
async function silenceableRelay(target: number): Promise<{ port: number; silence(): void; close(): void }> {
  const sockets = new Set<net.Socket>();
  let silent = false;
  const server = net.createServer((inbound) => {
    const outbound = net.connect(target, "127.0.0.1");
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
    }
    inbound.on("data", (chunk) => silent || outbound.write(chunk));
    outbound.on("data", (chunk) => silent || inbound.write(chunk));
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence: () => (silent = true),
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

it("fails a subscription with UNAVAILABLE, within the keepalive's 20 + 10 s, when its connection goes silent", async () => {
  const data = await tempDir("invoker-keepalive");
  const mesh = await startGateway(data.dir);
  const todo = await startTodo(mesh.address);
  const relay = await silenceableRelay(mesh.gateway.port);
  const invoker = Invoker.forGateway({ address: `127.0.0.1:${relay.port}` });
  try {
    const ack = await invoker.call(TodoListCommandServiceService.createTodoList, { listId: "cut", name: "Cut off" });
    const views = invoker.stream(TodoListQueryServiceService.watchTodoList, { listId: "cut" }, { consistencyToken: ack.position })[Symbol.asyncIterator]();
    assert.equal((await views.next()).value?.name, "Cut off");
    relay.silence();
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      views.next().then(
        () => assert.fail("the subscription answered through a silent connection"),
        (error: unknown) => error,
      ),
      new Promise((resolve) => (timer = setTimeout(() => resolve("still waiting after 45 s"), 45_000))),
    ]);
    clearTimeout(timer);
    assert.ok(outcome instanceof MeshError, String(outcome));
    assert.equal(outcome.code, status.UNAVAILABLE);
    assert.ok(Date.now() - started < 35_000);
  } finally {
    invoker.close();
    relay.close();
    await closeHandlers(mesh.gateway, [todo.mesh]);
    await mesh.gateway.stop();
    await data.remove();
  }
}, 90_000);
