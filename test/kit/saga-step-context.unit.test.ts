import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { SagaStepContext, type SagaSender } from "@recq-mesh/kit/internal/sagas/saga-step-context";
import { TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";

const META = { position: 42, aggregateId: "groceries", sequence: 3, timeMs: 0, commandId: "c-1" };

/** A sender that answers each call with the next of `answers` (an error is thrown), recording the command ids. */
function sender(answers: (MeshError | undefined)[]): { send: SagaSender; ids: string[] } {
  const ids: string[] = [];
  const send = (async (_method: unknown, _request: unknown, options: { commandId?: string }) => {
    ids.push(options.commandId!);
    const answer = answers.shift();
    if (answer !== undefined) throw answer;
    return { commandId: options.commandId, position: "1", sequence: "1" };
  }) as SagaSender;
  return { send, ids };
}

const add = TodoListCommandServiceService.addTodoItem;
const request = { listId: "l", itemId: "i", text: "t" };

describe("a saga step's sends", () => {
  it("carry command ids derived from the saga, the instance, the event's position and their rank", async () => {
    const { send, ids } = sender([undefined, undefined]);
    const step = new SagaStepContext("item-transfer", "groceries@3", META, send);
    await step.send(add, request);
    await step.send(add, request);
    assert.deepEqual(ids, ["recq:saga:item-transfer:groceries@3:42:1", "recq:saga:item-transfer:groceries@3:42:2"]);
    step.throwIfTransient();
  });

  it("give a domain refusal to the handler, and go on", async () => {
    const refusal = new MeshError(status.NOT_FOUND, "todo list nowhere does not exist", Reason.DOMAIN_RULE);
    const { send, ids } = sender([refusal, undefined]);
    const step = new SagaStepContext("s", "a", META, send);
    await assert.rejects(step.send(add, request), (error: MeshError) => error.code === status.NOT_FOUND);
    await step.send(add, request); // the compensation goes out
    assert.equal(ids.length, 2);
    step.throwIfTransient();
  });

  it("after any other failure, send nothing more in the step, and fail it however the handler caught the failure", async () => {
    const lost = new MeshError(status.UNAVAILABLE, "no handler is connected", Reason.NO_HANDLER);
    const { send, ids } = sender([lost, undefined]);
    const step = new SagaStepContext("s", "a", META, send);
    await assert.rejects(step.send(add, request), (error: MeshError) => error.code === status.UNAVAILABLE);
    await assert.rejects(step.send(add, request), (error: MeshError) => error.code === status.UNAVAILABLE);
    assert.deepEqual(ids, ["recq:saga:s:a:42:1"], "the compensation did not go out");
    assert.throws(() => step.throwIfTransient(), (error: MeshError) => error.code === status.UNAVAILABLE);
  });
});
