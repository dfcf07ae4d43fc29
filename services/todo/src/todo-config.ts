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
  /** Where the item-transfer saga keeps its checkpoint without MongoDB (`TODO_SAGA_DIR`); default data/todo-sagas. */
  sagaCheckpointFolder: string;
}

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
    sagaCheckpointFolder: env.TODO_SAGA_DIR || "data/todo-sagas",
  };
}

function optionalPositiveInteger(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return value;
}
