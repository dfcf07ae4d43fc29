import { checkpointCoalescing, type CheckpointCoalescing } from "@recq-mesh/kit";
import { DEFAULT_MAX_ATTACHMENT_BYTES } from "./todo-attachment-aggregate";
import { DEFAULT_DOWNLOAD_CHUNK_BYTES } from "./todo-attachment-queries";

/** The TodoList service's database when `RECQ_MONGODB_DATABASE` is unset: its own, apart from the gateway's. */
export const TODO_DATABASE = "recq_todo";

export type TodoRole = "commands" | "views";

export interface TodoConfig {
  /** The gateway. `RECQ_GATEWAY`; default 127.0.0.1:50051. */
  gateway: string;
  /** `RECQ_LINK_TOKEN`, when the gateway requires one. */
  linkToken: string | undefined;
  /**
   * What this process runs. `TODO_ROLES`, comma-separated; default `commands,views`.
   * `commands`: the TodoList aggregate. `views`: the projection and the queries that read it (together, since
   * the embedded view store lives in the process).
   */
  roles: ReadonlySet<TodoRole>;
  /**
   * `RECQ_CATCH_UP_TIMEOUT_MS`: how long the queries wait, unsubscribed, for the projection to replay up to the
   * store's head at start before they are served anyway; unset means the kit's default (300 s).
   */
  catchUpTimeoutMs: number | undefined;
  /** Largest attachment, bytes (`TODO_MAX_ATTACHMENT_BYTES`); default 256 MiB. One more byte fails the upload with RESOURCE_EXHAUSTED. */
  maxAttachmentBytes: number;
  /** Bytes per chunk of a download (`TODO_DOWNLOAD_CHUNK_BYTES`); default 256 KiB. */
  downloadChunkBytes: number;
  /**
   * Where the NotificationService POSTs notifications (`TODO_NOTIFICATION_WEBHOOK_URL`, http or https); unset: it
   * logs them instead.
   */
  notificationWebhookUrl: string | undefined;
  /** How long one webhook POST may take, ms (`TODO_NOTIFICATION_TIMEOUT_MS`); default 5 s. Past it the notifier retries. */
  notificationTimeoutMs: number;
  /** The folder of the todo-notifier's checkpoint on the embedded setup (`TODO_CHECKPOINT_DIR`); default data/todo-checkpoints. */
  checkpointFolder: string;
  /**
   * How the todo-notifier and the item-transfer saga write their checkpoints: `TODO_CHECKPOINT_INTERVAL_MS` (0 to
   * 60,000; 0 writes per event) and `TODO_CHECKPOINT_MAX_EVENTS` (1 to 100,000); the kit's defaults, 100 ms and 100.
   */
  checkpointCoalescing: CheckpointCoalescing;
}

export const DEFAULT_NOTIFICATION_TIMEOUT_MS = 5_000;
export const TODO_CHECKPOINT_FOLDER = "data/todo-checkpoints";

export const TODO_BLOB_FOLDER = "data/todo-blobs";

export function loadTodoConfig(env: NodeJS.ProcessEnv): TodoConfig {
  const roles = (env.TODO_ROLES ?? "commands,views").split(",").map((r) => r.trim()).filter((r) => r !== "");
  for (const role of roles) {
    if (role !== "commands" && role !== "views") throw new Error(`TODO_ROLES: unknown role "${role}"; the roles are commands and views`);
  }
  return {
    gateway: env.RECQ_GATEWAY ?? "127.0.0.1:50051",
    linkToken: env.RECQ_LINK_TOKEN || undefined,
    roles: new Set(roles as TodoRole[]),
    catchUpTimeoutMs: optionalPositiveInteger(env, "RECQ_CATCH_UP_TIMEOUT_MS"),
    maxAttachmentBytes: optionalPositiveInteger(env, "TODO_MAX_ATTACHMENT_BYTES") ?? DEFAULT_MAX_ATTACHMENT_BYTES,
    downloadChunkBytes: optionalPositiveInteger(env, "TODO_DOWNLOAD_CHUNK_BYTES") ?? DEFAULT_DOWNLOAD_CHUNK_BYTES,
    notificationWebhookUrl: optionalHttpUrl(env, "TODO_NOTIFICATION_WEBHOOK_URL"),
    notificationTimeoutMs: optionalPositiveInteger(env, "TODO_NOTIFICATION_TIMEOUT_MS") ?? DEFAULT_NOTIFICATION_TIMEOUT_MS,
    checkpointFolder: env.TODO_CHECKPOINT_DIR || TODO_CHECKPOINT_FOLDER,
    checkpointCoalescing: checkpointCoalescingOf(env),
  };
}

/** Checked at start by the kit's own rule, named by the variables. */
function checkpointCoalescingOf(env: NodeJS.ProcessEnv): CheckpointCoalescing {
  const intervalMs = optionalWholeNumber(env, "TODO_CHECKPOINT_INTERVAL_MS");
  const maxEvents = optionalWholeNumber(env, "TODO_CHECKPOINT_MAX_EVENTS");
  try {
    return checkpointCoalescing({ ...(intervalMs === undefined ? {} : { intervalMs }), ...(maxEvents === undefined ? {} : { maxEvents }) });
  } catch (error) {
    const message = (error as Error).message.replace("checkpointCoalescing.intervalMs", "TODO_CHECKPOINT_INTERVAL_MS").replace("checkpointCoalescing.maxEvents", "TODO_CHECKPOINT_MAX_EVENTS");
    throw new Error(message);
  }
}

function optionalWholeNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new Error(`${name} must be a whole number, got "${text}"`);
  return Number(text);
}

function optionalPositiveInteger(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return value;
}

/** An http(s) URL, checked at start: a typo is a configuration error, not a notification lost at run time. */
function optionalHttpUrl(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const text = env[name]?.trim();
  if (text === undefined || text === "") return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${name} must be an http or https URL, got "${text}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`${name} must be an http or https URL, got "${text}"`);
  return url.toString();
}
