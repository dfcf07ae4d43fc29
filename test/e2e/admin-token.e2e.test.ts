import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { DeadEventServiceClient } from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { ProjectionAdminServiceClient } from "@recq-mesh/protocol/gen/recq/v1/projections";
import { spawnGateway, type GatewayProcess } from "../support/gateway-process";
import { call, eventually, failure, startGateway, tempDir } from "../support/mesh-harness";
import { getOutcome, outcomeClient } from "../support/outcome-client";

const CALLER_TOKEN = "caller-secret";
const ADMIN_TOKEN = "admin-secret";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The gateway's "gateway ready" log line, parsed. */
function readyLine(gateway: GatewayProcess): Record<string, unknown> {
  const line = gateway.log().split("\n").find((entry) => entry.includes('"message":"gateway ready"'));
  assert.ok(line, "the gateway logged its ready line");
  return JSON.parse(line) as Record<string, unknown>;
}

/** Each method of both admin services, called with `metadata`; what each answered (its status code, or OK). */
async function adminAnswers(address: string, metadata: Record<string, string>): Promise<Record<string, status>> {
  const deadEvents = new DeadEventServiceClient(address, credentials.createInsecure());
  const projections = new ProjectionAdminServiceClient(address, credentials.createInsecure());
  const codeOf = (promise: Promise<unknown>) => promise.then(() => status.OK, (error: ServiceError) => error.code);
  try {
    return {
      ListParkedEvents: await codeOf(call(deadEvents, deadEvents.listParkedEvents, { consumer: "todo-lists", afterPosition: "0", pageSize: 0 }, metadata)),
      RetryParked: await codeOf(call(deadEvents, deadEvents.retryParked, { consumer: "todo-lists", aggregateType: "", aggregateId: "" }, metadata)),
      SkipParked: await codeOf(call(deadEvents, deadEvents.skipParked, { consumer: "todo-lists", position: "0", all: true }, metadata)),
      ListProjections: await codeOf(call(projections, projections.listProjections, {}, metadata)),
      GetProjection: await codeOf(call(projections, projections.getProjection, { projection: "todo-lists" }, metadata)),
      RebuildProjection: await codeOf(call(projections, projections.rebuildProjection, { projection: "todo-lists" }, metadata)),
    };
  } finally {
    for (const client of [deadEvents, projections] as Client[]) client.close();
  }
}

const everyMethod = (code: status) => ({
  ListParkedEvents: code,
  RetryParked: code,
  SkipParked: code,
  ListProjections: code,
  GetProjection: code,
  RebuildProjection: code,
});

/** Each admitted call's own answer: no projection `todo-lists` is connected, none has parked events. */
const ADMITTED = {
  ListParkedEvents: status.OK,
  RetryParked: status.OK,
  SkipParked: status.OK,
  ListProjections: status.OK,
  GetProjection: status.NOT_FOUND,
  RebuildProjection: status.FAILED_PRECONDITION,
};

describe("RECQ_ADMIN_TOKEN: the admin services take the admin token, and refuse the callers'", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let gateway: GatewayProcess;
  let address: string;
  let httpBase: string;

  beforeAll(async () => {
    data = await tempDir("admin-token");
    gateway = await spawnGateway(data.dir, 0, { RECQ_CLIENT_TOKEN: CALLER_TOKEN, RECQ_ADMIN_TOKEN: ADMIN_TOKEN, RECQ_HTTP_ADDRESS: "127.0.0.1:0" });
    address = `127.0.0.1:${gateway.port}`;
    httpBase = `http://127.0.0.1:${String(readyLine(gateway).httpPort)}`;
  });

  afterAll(async () => {
    gateway.child.kill("SIGTERM");
    await gateway.exited;
    await data.remove();
  });

  it("says so in its ready line", () => {
    assert.equal(readyLine(gateway).admin, "admin token");
    assert.equal(readyLine(gateway).callers, "shared token");
  });

  it("gRPC port: admits the admin token to every method of both services; the callers' token gets PERMISSION_DENIED, none UNAUTHENTICATED", async () => {
    assert.deepEqual(await adminAnswers(address, bearer(ADMIN_TOKEN)), ADMITTED);
    assert.deepEqual(await adminAnswers(address, bearer(CALLER_TOKEN)), everyMethod(status.PERMISSION_DENIED));
    assert.deepEqual(await adminAnswers(address, {}), everyMethod(status.UNAUTHENTICATED));
    const projections = new ProjectionAdminServiceClient(address, credentials.createInsecure());
    try {
      const refused = await failure(call(projections, projections.listProjections, {}, bearer(CALLER_TOKEN)));
      assert.match(refused.details, /RECQ_ADMIN_TOKEN/, "the refusal names the setting");
    } finally {
      projections.close();
    }
  });

  it("keeps the callers' token for callers' services, and the admin token grants them nothing", async () => {
    const outcomes = outcomeClient(address);
    try {
      assert.ok(await getOutcome(outcomes, "never-sent", bearer(CALLER_TOKEN)));
      assert.equal((await failure(getOutcome(outcomes, "never-sent", bearer(ADMIN_TOKEN)))).code, status.PERMISSION_DENIED);
    } finally {
      outcomes.close();
    }
  });

  it("HTTP port (Connect JSON): the admin token 200 on both services, the callers' token 403, none 401", async () => {
    const post = async (path: string, body: unknown, headers: Record<string, string>) =>
      (await fetch(`${httpBase}/${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })).status;
    const paths: [string, unknown][] = [
      ["recq.v1.DeadEventService/ListParkedEvents", { consumer: "todo-lists" }],
      ["recq.v1.DeadEventService/SkipParked", { consumer: "todo-lists", all: true }],
      ["recq.v1.ProjectionAdminService/ListProjections", {}],
    ];
    for (const [path, body] of paths) {
      assert.equal(await post(path, body, bearer(ADMIN_TOKEN)), 200, `${path} with the admin token`);
      assert.equal(await post(path, body, bearer(CALLER_TOKEN)), 403, `${path} with the callers' token`);
      assert.equal(await post(path, body, {}), 401, `${path} without a token`);
    }
    assert.equal(await post("recq.v1.ProjectionAdminService/RebuildProjection", { projection: "todo-lists" }, bearer(CALLER_TOKEN)), 403);
    // Admitted, it is the rebuild's own answer: no instance of todo-lists is connected (failed_precondition).
    assert.equal(await post("recq.v1.ProjectionAdminService/RebuildProjection", { projection: "todo-lists" }, bearer(ADMIN_TOKEN)), 400);
  });
});

describe("without RECQ_ADMIN_TOKEN: the admin services take the callers' token, as every call does", () => {
  it("admits the callers' token, and its ready line says admin is open to callers (with a warning)", async () => {
    const data = await tempDir("admin-open");
    const gateway = await spawnGateway(data.dir, 0, { RECQ_CLIENT_TOKEN: CALLER_TOKEN });
    try {
      assert.equal(readyLine(gateway).admin, "open to callers (RECQ_CLIENT_TOKEN)");
      await eventually(async () => assert.match(gateway.log(), /"level":"warn".*set RECQ_ADMIN_TOKEN/));
      const address = `127.0.0.1:${gateway.port}`;
      assert.deepEqual(await adminAnswers(address, bearer(CALLER_TOKEN)), ADMITTED);
      assert.deepEqual(await adminAnswers(address, bearer("another")), everyMethod(status.PERMISSION_DENIED));
    } finally {
      gateway.child.kill("SIGTERM");
      await gateway.exited;
      await data.remove();
    }
  });
});

describe("RECQ_ADMIN_TOKEN on a gateway whose callers are open", () => {
  it("guards the admin services alone: callers' services stay open", async () => {
    const data = await tempDir("admin-only");
    const mesh = await startGateway(data.dir, { adminToken: ADMIN_TOKEN });
    const outcomes = outcomeClient(mesh.address);
    try {
      assert.deepEqual(await adminAnswers(mesh.address, {}), everyMethod(status.UNAUTHENTICATED));
      assert.deepEqual(await adminAnswers(mesh.address, bearer(ADMIN_TOKEN)), ADMITTED);
      assert.ok(await getOutcome(outcomes, "never-sent"), "a caller needs no token");
    } finally {
      outcomes.close();
      await mesh.gateway.stop();
      await data.remove();
    }
  });
});
