import type { CheckpointStore, ObserverDefinition } from "@recq-mesh/kit";
import { TodoItemCompleted, TodoListDeleted } from "../gen/todo/v1/events";
import { NotificationServiceService } from "../gen/todo/v1/notifications";

export const TODO_NOTIFIER = "todo-notifier";

const notifiedEvents = {
  "todo.v1.TodoItemCompleted": TodoItemCompleted,
  "todo.v1.TodoListDeleted": TodoListDeleted,
};

/**
 * The todo-notifier Observer: when an item is completed or a list is deleted, it sends SendNotification to the
 * NotificationService. The command id is the observer's derived one (`recq:observer:todo-notifier:<position>`), so an event
 * delivered again (after a crash before the checkpoint moved, or after a failed webhook) is notified once.
 */
export function todoNotifier(checkpoints: CheckpointStore): ObserverDefinition<typeof notifiedEvents> {
  return {
    name: TODO_NOTIFIER,
    events: notifiedEvents,
    checkpoints,
    async handle(event, _meta, context) {
      const send = NotificationServiceService.sendNotification;
      switch (event.type) {
        case "todo.v1.TodoItemCompleted": {
          const { listId, itemId } = event.data;
          await context.call(send, { subject: "todo.item_completed", listId, itemId, text: `Item ${itemId} of list ${listId} is done.` });
          return;
        }
        case "todo.v1.TodoListDeleted":
          await context.call(send, { subject: "todo.list_deleted", listId: event.data.listId, itemId: "", text: `List ${event.data.listId} was deleted.` });
          return;
      }
    },
  };
}
