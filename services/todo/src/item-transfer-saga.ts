import { MeshError, type CheckpointStore, type SagaContext, type SagaDefinition } from "@recq-mesh/kit";
import { TodoListCommandServiceService } from "../gen/todo/v1/commands";
import { TodoItemTransferCancelled, TodoItemTransferred, TodoItemTransferRequested } from "../gen/todo/v1/events";
import { ItemTransferPhase, ItemTransferState } from "../gen/todo/v1/item_transfer";

export const ITEM_TRANSFER_SAGA = "item-transfer";

const transferEvents = {
  "todo.v1.TodoItemTransferRequested": TodoItemTransferRequested,
  "todo.v1.TodoItemTransferred": TodoItemTransferred,
  "todo.v1.TodoItemTransferCancelled": TodoItemTransferCancelled,
};

const commands = TodoListCommandServiceService;

/**
 * The item-transfer saga: a consistency rule across two TodoList aggregates. A requested move adds the item to the
 * target list, then completes the move on the source (the item leaves it); when the target refuses (no such list,
 * deleted, an item of that id already there), it cancels the move on the source instead. The source's confirming
 * event ends the instance.
 */
export function itemTransferSaga(checkpoints: CheckpointStore): SagaDefinition<typeof transferEvents, ItemTransferState> {
  return {
    name: ITEM_TRANSFER_SAGA,
    events: transferEvents,
    state: { type: "todo.v1.ItemTransferState", codec: ItemTransferState, initial: () => ItemTransferState.fromPartial({}) },
    associate: {
      "todo.v1.TodoItemTransferRequested": (event) => event.transferId,
      "todo.v1.TodoItemTransferred": (event) => event.transferId,
      "todo.v1.TodoItemTransferCancelled": (event) => event.transferId,
    },
    startsWith: ["todo.v1.TodoItemTransferRequested"],
    checkpoints,
    async handle(event, state, context) {
      switch (event.type) {
        case "todo.v1.TodoItemTransferRequested":
          return moveItem(event.data, context);
        case "todo.v1.TodoItemTransferred":
        case "todo.v1.TodoItemTransferCancelled":
          context.end();
          return state;
      }
    },
  };
}

async function moveItem(request: TodoItemTransferRequested, context: SagaContext): Promise<ItemTransferState> {
  const { listId, itemId, targetListId, text, transferId } = request;
  const base = { sourceListId: listId, itemId, targetListId };
  try {
    await context.send(commands.addTodoItem, { listId: targetListId, itemId, text });
  } catch (thrown) {
    // The target refused: compensate on the source. (A failure that is no refusal fails the step, to be run again;
    // the kit would not let the compensation go out after it anyway.)
    if (!(thrown instanceof MeshError)) throw thrown;
    await context.send(commands.cancelTodoItemTransfer, { listId, itemId, transferId, reason: thrown.message });
    return { ...base, phase: ItemTransferPhase.ITEM_TRANSFER_PHASE_CANCELLING };
  }
  await context.send(commands.completeTodoItemTransfer, { listId, itemId, transferId });
  return { ...base, phase: ItemTransferPhase.ITEM_TRANSFER_PHASE_COMPLETING };
}
