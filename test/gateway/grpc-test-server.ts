import * as grpc from "@grpc/grpc-js";

export interface TestServer {
  readonly server: grpc.Server;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  stop(): Promise<void>;
}

/** A real grpc-js server on 127.0.0.1, port 0, with whatever services `register` adds. */
export async function startTestServer(register: (server: grpc.Server) => void): Promise<TestServer> {
  const server = new grpc.Server();
  register(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
  return { server, address: `127.0.0.1:${port}`, stop: () => stopServer(server) };
}

/** Graceful shutdown, forced after a short grace period (open streams would otherwise hold it forever). */
function stopServer(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), 500);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
