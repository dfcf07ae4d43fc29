import { credentials } from "@grpc/grpc-js";
import { EmbeddedViewStore, MeshService, type DomainEvent, type EventMeta, type Logger, type ProjectionDefinition, type ViewStore, type ViewWrite } from "@recq-mesh/kit";
import { todoEvents } from "@recq-mesh/todo";
import { DeadEventServiceClient } from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { startGateway, startTodo, tempDir, type RunningGateway } from "./mesh-harness";

export const AUDIT = "audit";
export const AUDIT_CONSUMER = "dead-event-audit";

/** One list's audit: the positions applied to it, in the order they were applied (a repeat would show twice). */
export type AuditDocument = { _id: string; positions: number[] } & Record<string, unknown>;

/**
 * A projection for the dead-event queue's tests: it records, per list, every position it applies, and it throws on
 * an item named "poison" while `broken` is set (a handler bug, fixed by clearing it).
 */
export function auditProjection(views: EmbeddedViewStore, state: { broken: boolean }, name = AUDIT_CONSUMER): ProjectionDefinition<typeof todoEvents> {
  return {
    name,
    scope: "shared",
    store: views,
    events: todoEvents,
    apply: async (event, meta, store) => [await auditWrite(event, meta, store, state)],
  };
}

/**
 * The audit projection's work for one event: throws on an item named "poison" while `broken`, else the write that adds
 * the event's position to its list's audit document in `store`.
 */
export async function auditWrite(event: DomainEvent<typeof todoEvents>, meta: EventMeta, store: ViewStore, state: { broken: boolean }): Promise<ViewWrite> {
  if (state.broken && event.type === "todo.v1.TodoItemAdded" && event.data.text === "poison") {
    throw new Error(`cannot apply the poison item of list ${event.data.listId}`);
  }
  const current = (await store.findById(AUDIT, event.data.listId)) as AuditDocument | undefined;
  const document: AuditDocument = { _id: event.data.listId, positions: [...(current?.positions ?? []), meta.position] };
  return { kind: "put", collection: AUDIT, document };
}

/** The audit projection in this process, retrying in place 3 times, 10–20 ms apart, before an event is parked. */
export async function startAudit(
  address: string,
  state: { broken: boolean },
  logger?: Logger,
  name = AUDIT_CONSUMER,
): Promise<{ mesh: MeshService; views: EmbeddedViewStore }> {
  const views = new EmbeddedViewStore();
  const mesh = new MeshService({ address, component: "audit", logger });
  mesh.addProjection(auditProjection(views, state, name), { deadEvents: { attempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 } });
  await mesh.start();
  return { mesh, views };
}

export async function auditedPositions(views: ViewStore, listId: string): Promise<number[]> {
  return ((await views.findById(AUDIT, listId)) as AuditDocument | undefined)?.positions ?? [];
}

export function deadEventClient(address: string): DeadEventServiceClient {
  return new DeadEventServiceClient(address, credentials.createInsecure());
}

export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: Record<string, unknown> | undefined;
}

/** A logger that keeps every line, for assertions on what was logged. */
export function capturingLogger(lines: LogLine[]): Logger {
  const at = (level: LogLine["level"]) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A running mesh whose projection `consumer` throws on an item named "poison": what the documented admin calls act on. */
export interface PoisonedMesh {
  mesh: RunningGateway;
  audit: { mesh: MeshService; views: EmbeddedViewStore };
  admin: DeadEventServiceClient;
  stop(): Promise<void>;
}

/** A gateway on port 0 with the TodoList aggregate and the broken audit projection named `consumer`. */
export async function startPoisonedMesh(folder: string, consumer: string): Promise<PoisonedMesh> {
  const data = await tempDir(folder);
  const mesh = await startGateway(data.dir);
  const todo = await startTodo(mesh.address, { roles: ["commands"] });
  const audit = await startAudit(mesh.address, { broken: true }, undefined, consumer);
  const admin = deadEventClient(mesh.address);
  return {
    mesh,
    audit,
    admin,
    stop: async () => {
      admin.close();
      await audit.mesh.drain();
      await todo.mesh.drain();
      await mesh.gateway.stop();
      await data.remove();
    },
  };
}
