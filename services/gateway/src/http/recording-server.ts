import { Server, type ServiceDefinition, type UntypedHandleCall, type UntypedServiceImplementation } from "@grpc/grpc-js";

/** One method the gateway serves over gRPC: its definition (path, kind, serializers) and its implementation. */
export interface ServedMethod {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (value: unknown) => Buffer;
  implementation: UntypedHandleCall;
}

/**
 * The gateway's gRPC server, which also remembers every method added to it: the HTTP port serves the same
 * implementations (http-port.ts), so a call over HTTP runs the code a gRPC call runs, not a second copy of it.
 */
export class RecordingServer extends Server {
  private readonly methods = new Map<string, ServedMethod>();

  override addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    super.addService(service, implementation);
    for (const key of Object.keys(service)) {
      const definition = service[key]!;
      const handler = implementation[key] ?? implementation[definition.originalName ?? ""];
      if (handler === undefined) continue;
      this.methods.set(definition.path, {
        path: definition.path,
        requestStream: definition.requestStream,
        responseStream: definition.responseStream,
        requestDeserialize: definition.requestDeserialize as (bytes: Buffer) => unknown,
        responseSerialize: definition.responseSerialize as (value: unknown) => Buffer,
        implementation: handler,
      });
    }
  }

  /** A method served at this path (`/todo.v1.TodoListQueryService/GetTodoList`). */
  served(path: string): ServedMethod | undefined {
    return this.methods.get(path);
  }
}
