import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import type { ServerInterceptingCallInterface, ServerMethodDefinition } from "@grpc/grpc-js";
import { callerLimitsInterceptor } from "@recq-mesh/gateway/internal/server/caller-limits";

describe("caller limits interceptor", () => {
  it("passes calls on unchanged and says so once when grpc-js's call has none of the fields it uses", () => {
    const errors: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (message: string) => errors.push(message) };
    const interceptor = callerLimitsInterceptor(
      { maxRequestBytes: 1024, maxRequestArrivalMs: 1000, maxLinkMessageBytes: 4096, linkMethodPaths: new Set(["/recq.v1.HandlerLinkService/Connect"]) },
      logger,
    );
    // A call as a later grpc-js might hand it over: the public interface only.
    const call = { sendStatus: () => undefined } as unknown as ServerInterceptingCallInterface;
    const method = (path: string, requestStream: boolean) => ({ path, requestStream }) as unknown as ServerMethodDefinition<unknown, unknown>;
    assert.equal(interceptor(method("/todo.v1.TodoListQueryService/GetTodoList", false), call), call);
    assert.equal(interceptor(method("/recq.v1.HandlerLinkService/Connect", true), call), call);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /grpc-js's call internals are not as expected/);
  });
});
