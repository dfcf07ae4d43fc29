// The TodoList service's parts, for the mesh's own tests and benchmarks, which run them in process; the service
// itself is main.ts.
export { todoListAggregate, MAX_ID_LENGTH, MAX_ITEMS_PER_LIST, MAX_NAME_LENGTH, MAX_TEXT_LENGTH } from "./src/todo-list-aggregate";
export { TODO_LIST_PROJECTION, todoListProjection } from "./src/todo-list-projection";
export { todoListQueries, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./src/todo-list-queries";
export { todoEvents, type TodoEvent } from "./src/todo-events";
export { TODO_LISTS, type TodoListDocument } from "./src/todo-list-view";
export { loadTodoConfig, TODO_DATABASE, DEFAULT_NOTIFICATION_TIMEOUT_MS, type TodoConfig, type TodoRole } from "./src/todo-config";
export { todoAttachmentAggregate, DEFAULT_MAX_ATTACHMENT_BYTES } from "./src/todo-attachment-aggregate";
export { todoAttachmentQueries, DEFAULT_DOWNLOAD_CHUNK_BYTES } from "./src/todo-attachment-queries";
export { notificationService, notificationEvents, WEBHOOK_FAILED, type NotificationServiceOptions } from "./src/notification-service";
export { todoNotifier, TODO_NOTIFIER } from "./src/todo-notifier";
export { itemTransferSaga, ITEM_TRANSFER_SAGA } from "./src/item-transfer-saga";
