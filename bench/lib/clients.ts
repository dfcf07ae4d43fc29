import { credentials, Metadata, type CallOptions, type Client, type ServiceError } from "@grpc/grpc-js";
import { TodoListCommandServiceClient } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoListQueryServiceClient } from "@recq-mesh/todo/gen/todo/v1/queries";

/** Several channels, so that one HTTP/2 connection's single thread of frames is not what is measured. */
export function commandClients(address: string, channels: number): TodoListCommandServiceClient[] {
  return Array.from({ length: channels }, (_, i) => new TodoListCommandServiceClient(address, credentials.createInsecure(), { "grpc.channel_id": i }));
}

export function queryClients(address: string, channels: number): TodoListQueryServiceClient[] {
  return Array.from({ length: channels }, (_, i) => new TodoListQueryServiceClient(address, credentials.createInsecure(), { "grpc.channel_id": i }));
}

type Unary<Req, Res> = (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (error: ServiceError | null, response: Res) => void) => unknown;

export function unary<Req, Res>(client: Client, method: Unary<Req, Res>, request: Req, headers: Record<string, string> = {}, deadlineMs = 30_000): Promise<Res> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return new Promise((resolve, reject) =>
    method.call(client, request, metadata, { deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response))),
  );
}
