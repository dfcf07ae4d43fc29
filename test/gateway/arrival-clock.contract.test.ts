import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials, makeGenericClientConstructor, Metadata, Server, ServerCredentials, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { callerLimitsInterceptor } from "@recq-mesh/gateway/internal/server/caller-limits";
import { callerInterceptor } from "@recq-mesh/gateway/internal/security/caller-interceptor";
import type { CallerAuthorization } from "@recq-mesh/gateway/internal/security/caller-authorization";

// The arrival clock of the caller limits, on a real grpc-js server: it must stop once a call grpc-js answered by
// itself (the caller's deadline passed while an interceptor above was still deciding) has closed, not run on to
// RECQ_MAX_REQUEST_ARRIVAL_MS holding the call, its stream and its decoder.
const ARRIVAL_MS = 60_000;
const bytes = (buffer: Buffer): Buffer => buffer;
const definition = {
  Get: { path: "/t.S/Get", requestStream: false, responseStream: false, originalName: "get", requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes },
};
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe("the callers' arrival clock", () => {
  const running = new Set<NodeJS.Timeout>();
  const realSetTimeout = global.setTimeout;
  const realClearTimeout = global.clearTimeout;
  let server: Server;
  let client: Client & { Get: (request: Buffer, metadata: Metadata, options: { deadline: number }, done: (error: ServiceError | null) => void) => void };

  beforeAll(async () => {
    // Only the clocks of ARRIVAL_MS are counted: what the caller limits start per call.
    global.setTimeout = ((run: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const timer = realSetTimeout((...passed: unknown[]) => (running.delete(timer), run(...passed)), ms, ...args);
      if (ms === ARRIVAL_MS) running.add(timer);
      return timer;
    }) as typeof setTimeout;
    global.clearTimeout = ((timer: NodeJS.Timeout | undefined) => (timer !== undefined && running.delete(timer), realClearTimeout(timer))) as typeof clearTimeout;
    // An authorization slower than the callers' deadlines: grpc-js answers DEADLINE_EXCEEDED before the request
    // has passed on to the layer that would end the clock at its half-close.
    const slowAuthorization = {
      authorize: () => new Promise((resolve) => realSetTimeout(() => resolve({ subject: "s", claims: {} }), 200)),
    } as unknown as CallerAuthorization;
    server = new Server({
      interceptors: [
        callerLimitsInterceptor({ maxRequestBytes: 1024, maxRequestArrivalMs: ARRIVAL_MS, maxLinkMessageBytes: 4096, linkMethodPaths: new Set() }, silent),
        callerInterceptor(slowAuthorization, () => "authorize"),
      ],
    });
    server.addService(definition, { Get: (_call: unknown, done: (error: null, answer: Buffer) => void) => done(null, Buffer.from("ok")) });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
    const Constructor = makeGenericClientConstructor(definition, "S");
    client = new Constructor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as typeof client;
  });

  afterAll(() => {
    client?.close();
    server?.forceShutdown();
    global.setTimeout = realSetTimeout;
    global.clearTimeout = realClearTimeout;
  });

  it("stops once a call answered by grpc-js itself has closed", async () => {
    const codes = await Promise.all(
      Array.from({ length: 20 }, () => new Promise<number>((resolve) => client.Get(Buffer.from("x"), new Metadata(), { deadline: Date.now() + 50 }, (error) => resolve(error?.code ?? status.OK)))),
    );
    assert.deepEqual([...new Set(codes)], [status.DEADLINE_EXCEEDED]);
    // The streams close a moment after grpc-js's answers; the clocks with them.
    for (let waited = 0; running.size > 0 && waited < 2_000; waited += 50) await new Promise((resolve) => realSetTimeout(resolve, 50));
    assert.equal(running.size, 0, `${running.size} arrival clocks still running after their calls ended`);
  });
});
