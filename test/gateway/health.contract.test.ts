import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { setTimeout as delay } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import {
  HealthCheckResponse_ServingStatus as Status,
  HealthClient,
  type HealthCheckResponse,
} from "@recq-mesh/gateway/gen/grpc/health/v1/health";
import { addHealthService, HealthRegistry } from "@recq-mesh/gateway/internal/health/health-service";
import { startTestServer, type TestServer } from "./grpc-test-server";

const QUERIES = "todo.v1.TodoListQueryService";

describe("health service", () => {
  let registry: HealthRegistry;
  let testServer: TestServer;
  let client: HealthClient;

  beforeAll(async () => {
    registry = new HealthRegistry();
    registry.setStatus(QUERIES, "SERVING");
    testServer = await startTestServer((server) => addHealthService(server, registry));
    client = new HealthClient(testServer.address, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await testServer.stop();
  });

  const check = (service: string): Promise<HealthCheckResponse> =>
    new Promise((resolve, reject) => client.check({ service }, (error, response) => (error ? reject(error) : resolve(response))));

  it("answers the overall status under the empty name", async () => {
    assert.deepEqual(await check(""), { status: Status.SERVING });
  });

  it("answers a known service's status", async () => {
    assert.deepEqual(await check(QUERIES), { status: Status.SERVING });
    registry.setStatus(QUERIES, "NOT_SERVING");
    assert.deepEqual(await check(QUERIES), { status: Status.NOT_SERVING });
    registry.setStatus(QUERIES, "SERVING");
  });

  it("answers NOT_FOUND for an unknown service", async () => {
    await assert.rejects(check("no.such.Service"), (error: grpc.ServiceError) => {
      assert.equal(error.code, grpc.status.NOT_FOUND);
      assert.match(error.details, /unknown service "no\.such\.Service"/);
      return true;
    });
  });

  it("lists every status", async () => {
    const listed = await new Promise((resolve, reject) =>
      client.list({}, (error, response) => (error ? reject(error) : resolve(response))),
    );
    assert.deepEqual(listed, { statuses: { "": { status: Status.SERVING }, [QUERIES]: { status: Status.SERVING } } });
  });

  it("watches: the current status, then each change, and stops listening when cancelled", async () => {
    const service = "todo.v1.TodoListCommandService";
    const call = client.watch({ service });
    const seen: Status[] = [];
    call.on("data", (response: HealthCheckResponse) => seen.push(response.status));
    call.on("error", () => undefined); // the cancel below ends the call with CANCELLED
    await waitFor(() => seen.length === 1);
    registry.setStatus(service, "SERVING");
    registry.setStatus(service, "SERVING"); // no change, no message
    registry.setStatus(service, "NOT_SERVING");
    registry.clearStatus(service);
    await waitFor(() => seen.length === 4);
    assert.deepEqual(seen, [Status.SERVICE_UNKNOWN, Status.SERVING, Status.NOT_SERVING, Status.SERVICE_UNKNOWN]);

    assert.equal(registry.watcherCount(service), 1);
    call.cancel();
    await waitFor(() => registry.watcherCount(service) === 0);
  });

  it("watches a known service: its status comes first", async () => {
    const call = client.watch({ service: QUERIES });
    const first = await new Promise<HealthCheckResponse>((resolve) => call.once("data", resolve));
    assert.deepEqual(first, { status: Status.SERVING });
    call.on("error", () => undefined);
    call.cancel();
    await waitFor(() => registry.watcherCount(QUERIES) === 0);
  });
});

describe("HealthRegistry", () => {
  it("shutdown sets everything NOT_SERVING, tells watchers, and ignores later changes", () => {
    const registry = new HealthRegistry();
    registry.setStatus("a.Service", "SERVING");
    const heard: string[] = [];
    const stop = registry.watch("", (status) => heard.push(status));
    registry.shutdown();
    registry.setStatus("a.Service", "SERVING");
    registry.setStatus("", "SERVING");
    assert.deepEqual(Object.fromEntries(registry.snapshot()), { "": "NOT_SERVING", "a.Service": "NOT_SERVING" });
    assert.deepEqual(heard, ["SERVING", "NOT_SERVING"]);
    stop();
    assert.equal(registry.watcherCount(""), 0);
  });

  it("can start NOT_SERVING until the server is ready", () => {
    assert.equal(new HealthRegistry("NOT_SERVING").status(""), "NOT_SERVING");
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail("condition not met in time");
    await delay(5);
  }
}
