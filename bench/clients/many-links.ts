// Opens `count` handler links to the gateway, each its own connection, each subscribed to GetTodoList, and
// holds them until stdin closes or it is killed. Prints "ready" once every link was accepted.
import { LinkClient } from "@recq-mesh/kit/internal/link/link-client";
import { silentLogger } from "@recq-mesh/protocol";

async function main(): Promise<void> {
  const [address, countArg] = process.argv.slice(2);
  const count = Number(countArg ?? 1000);
  const links: LinkClient[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) => {
      const link = new LinkClient({ address: address!, component: "many", instanceId: `many-${i + j}`, logger: silentLogger, maxConcurrent: 16,
        // Its own connection, as a separate process would have.
        channelOptions: { "grpc.use_local_subchannel_pool": 1 },
      });
      link.handle({ method: "todo.v1.TodoListQueryService/GetTodoList", loadFactor: 100, projection: "" }, (_d, _m, reply) => reply({ $case: "answer", value: { payload: Buffer.alloc(0) } }));
      links.push(link);
      return link.start();
    });
    await Promise.all(batch);
  }
  process.stdout.write("ready\n");
  process.on("SIGTERM", () => {
    for (const link of links) link.close();
    process.exit(0);
  });
}

void main();
