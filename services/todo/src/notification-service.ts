import { status } from "@grpc/grpc-js";
import { MeshError, Reason, type Logger, type ServiceDefinition } from "@recq-mesh/kit";
import { NotificationSent, NotificationServiceService, type SendNotification } from "../gen/todo/v1/notifications";

/** NotificationService's service events by full protobuf name. */
export const notificationEvents = { "todo.v1.NotificationSent": NotificationSent };

/** The reason a caller gets when the webhook did not take a notification (UNAVAILABLE: not recorded, so a retry sends it). */
export const WEBHOOK_FAILED = "WEBHOOK_FAILED";

export interface NotificationServiceOptions {
  /** Where notifications are POSTed (TODO_NOTIFICATION_WEBHOOK_URL); undefined: they are logged instead. */
  webhookUrl: string | undefined;
  /** How long a POST may take (TODO_NOTIFICATION_TIMEOUT_MS). */
  timeoutMs: number;
  logger: Logger;
}

/**
 * The TodoList's NotificationService, a Service: SendNotification has no routing key and no state; it delivers the
 * notification — the outside call — and emits NotificationSent. A webhook that fails answers UNAVAILABLE, which the
 * gateway does not record, so the same command id sent again delivers it then; once delivered, the recorded outcome
 * answers a repeat and the webhook is not called twice.
 */
export function notificationService(options: NotificationServiceOptions): ServiceDefinition<typeof NotificationServiceService, typeof notificationEvents> {
  return {
    service: NotificationServiceService,
    events: notificationEvents,
    handle: {
      async sendNotification(command, context) {
        if (command.subject === "") throw new MeshError(status.INVALID_ARGUMENT, "SendNotification.subject is required", Reason.INVALID_REQUEST);
        const channel = options.webhookUrl === undefined ? "log" : "webhook";
        if (options.webhookUrl === undefined) options.logger.info("notification", { notificationId: context.commandId, ...command });
        else await postToWebhook(options.webhookUrl, context.commandId, command, AbortSignal.any([context.signal, AbortSignal.timeout(options.timeoutMs)]));
        return [{ type: "todo.v1.NotificationSent", data: { ...command, channel } }];
      },
    },
  };
}

/** POSTs the notification as JSON; `Idempotency-Key` carries the command id, so a receiver can drop a repeat. */
async function postToWebhook(url: string, notificationId: string, notification: SendNotification, signal: AbortSignal): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": notificationId },
      body: JSON.stringify({ notificationId, ...notification }),
      signal,
    });
  } catch (thrown) {
    throw new MeshError(status.UNAVAILABLE, `the notification webhook could not be reached: ${thrown instanceof Error ? thrown.message : String(thrown)}`, WEBHOOK_FAILED);
  }
  // The body is not used: read it so the connection can be reused.
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new MeshError(status.UNAVAILABLE, `the notification webhook answered HTTP ${response.status}`, WEBHOOK_FAILED);
}
