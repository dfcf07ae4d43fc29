import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { SpanKind } from "@opentelemetry/api";
import { SpanName } from "@recq-mesh/protocol";
import { OutcomeState } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { eventually, startGateway, startTodo, tempDir, todoClients, type RunningGateway, type RunningTodo } from "../support/mesh-harness";
import { getOutcome, outcomeClient, sendAccepted } from "../support/outcome-client";
import { memorySpans, parentOf } from "../support/tracing";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0eacc1";
const CLIENT_SPAN = "00f067aa0ba902b7";
const CREATE = "todo.v1.TodoListCommandService/CreateTodoList";

describe("tracing of accepted commands", () => {
  const spans = memorySpans();
  let data: Awaited<ReturnType<typeof tempDir>>;
  let mesh: RunningGateway;
  let todo: RunningTodo;

  beforeAll(async () => {
    data = await tempDir("accepted-tracing");
    mesh = await startGateway(data.dir);
    todo = await startTodo(mesh.address, { roles: ["commands"] });
  });

  afterAll(async () => {
    todo.mesh.close();
    await mesh.gateway.stop();
    await data.remove();
  });

  it("runs the accepted command in the trace of its acceptance: the execution under the acceptance's server span, dispatch and append under it", async () => {
    const clients = todoClients(mesh.address);
    const outcomes = outcomeClient(mesh.address);
    try {
      spans.reset();
      await sendAccepted(clients.commands, clients.commands.createTodoList, { listId: "traced", name: "T" }, { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`, "recq-command-id": "traced-1" });
      await eventually(async () => assert.equal((await getOutcome(outcomes, "traced-1")).state, OutcomeState.OUTCOME_STATE_SUCCEEDED));
      await eventually(async () => assert.ok(spans.getFinishedSpans().some((span) => span.name === SpanName.ACCEPTED_EXECUTE)));
      const trace = spans.getFinishedSpans().filter((span) => span.spanContext().traceId === TRACE_ID);
      const receive = trace.find((span) => span.name === CREATE && span.kind === SpanKind.SERVER && parentOf(span) === CLIENT_SPAN);
      assert.ok(receive, "the acceptance's server span continues the caller's trace");
      const execute = trace.find((span) => span.name === SpanName.ACCEPTED_EXECUTE);
      assert.ok(execute, "the execution is in the acceptance's trace");
      assert.equal(parentOf(execute), receive.spanContext().spanId);
      assert.equal(execute.attributes["recq.command_id"], "traced-1");
      const dispatch = trace.find((span) => span.name === CREATE && span.kind === SpanKind.CLIENT);
      assert.equal(dispatch && parentOf(dispatch), execute.spanContext().spanId);
      const append = trace.find((span) => span.name === SpanName.EVENT_APPEND);
      assert.equal(append && parentOf(append), execute.spanContext().spanId);
    } finally {
      clients.close();
      outcomes.close();
    }
  });
});
