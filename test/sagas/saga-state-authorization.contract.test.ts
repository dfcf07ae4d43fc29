import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { credentials, status } from "@grpc/grpc-js";
import { silentLogger } from "@recq-mesh/kit";
import { SagaStateServiceClient, type LoadSagaStateResponse, type RecordSagaStepResponse } from "@recq-mesh/protocol/gen/recq/v1/sagas";
import { ComponentAuthorization } from "@recq-mesh/gateway/internal/security/component-authorization";
import { parseSecurityPolicy } from "@recq-mesh/gateway/internal/security/security-policy";
import { failure, startGateway, tempDir, type RunningGateway } from "../support/mesh-harness";

/** Saga state belongs to the component granted the saga's consumer name (the security file's `consumers`). */
describe("SagaStateService: components and their grants", () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  let running: RunningGateway;
  let client: SagaStateServiceClient;

  beforeAll(async () => {
    temp = await tempDir("saga-grants");
    writeFileSync(path.join(temp.dir, "todo.token"), "todo-token");
    writeFileSync(path.join(temp.dir, "billing.token"), "billing-token");
    const policy = parseSecurityPolicy(
      {
        components: {
          todo: { tokenFile: "todo.token", methods: [], consumers: ["item-transfer"] },
          billing: { tokenFile: "billing.token", methods: [], consumers: ["invoices"] },
        },
      },
      temp.dir,
      "test policy",
    );
    running = await startGateway(path.join(temp.dir, "data"), { components: new ComponentAuthorization(policy.components!, silentLogger) });
    client = new SagaStateServiceClient(running.address, credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await running.gateway.stop();
    await temp.remove();
  });

  const load = (saga: string, token: string) =>
    new Promise<LoadSagaStateResponse>((resolve, reject) =>
      client.loadSagaState({ saga, association: "t1", credentials: token }, (error, answer) => (error ? reject(error) : resolve(answer))),
    );
  const record = (saga: string, token: string) =>
    new Promise<RecordSagaStepResponse>((resolve, reject) =>
      client.recordSagaStep(
        { saga, association: "t1", expectedVersion: "0", position: "1", state: { type: "t", payload: Buffer.from("s") }, ended: false, credentials: token },
        (error, answer) => (error ? reject(error) : resolve(answer)),
      ),
    );

  it("serves the saga's own component", async () => {
    assert.equal((await record("item-transfer", "todo-token")).version, "1");
    assert.equal((await load("item-transfer", "todo-token")).version, "1");
  });

  it("refuses another component (PERMISSION_DENIED) and unknown or missing credentials (UNAUTHENTICATED)", async () => {
    assert.equal((await failure(load("item-transfer", "billing-token"))).code, status.PERMISSION_DENIED);
    assert.equal((await failure(record("item-transfer", "billing-token"))).code, status.PERMISSION_DENIED);
    assert.equal((await failure(load("item-transfer", "guess"))).code, status.UNAUTHENTICATED);
    assert.equal((await failure(load("item-transfer", ""))).code, status.UNAUTHENTICATED);
    assert.equal((await load("invoices", "billing-token")).exists, false);
  });
});
