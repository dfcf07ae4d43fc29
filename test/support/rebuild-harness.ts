import { credentials } from "@grpc/grpc-js";
import { EmbeddedViewStore, GenerationalViewStore, MeshService, TracedViewStore, type ViewStore } from "@recq-mesh/kit";
import { ConsumerClient } from "@recq-mesh/kit/internal/consumer/consumer-client";
import { ProjectionHandler } from "@recq-mesh/kit/internal/consumer/projection-handler";
import { silentLogger } from "@recq-mesh/protocol";
import { ProjectionAdminServiceClient } from "@recq-mesh/protocol/gen/recq/v1/projections";
import { TODO_LISTS, todoListAggregate, todoListProjection, todoListQueries } from "@recq-mesh/todo";
import { auditWrite } from "./dead-event-audit";
import { call } from "./mesh-harness";

/**
 * Holds a rebuild's projector before it applies events past a position, until released: a rebuild in progress the
 * test can look at. Only writes through a generation other than the one queries read are held.
 */
export class RebuildGate {
  private release: (() => void) | undefined;
  private readonly released: Promise<void>;
  /** The positions the held projector was asked to apply, in order. */
  readonly applied: number[] = [];

  constructor(readonly holdAfter: number) {
    this.released = new Promise<void>((resolve) => (this.release = resolve));
  }

  async pass(position: number): Promise<void> {
    this.applied.push(position);
    if (position > this.holdAfter) await this.released;
  }

  open(): void {
    this.release?.();
  }
}

export interface RebuildableTodo {
  mesh: MeshService;
  /** The store the generations live in (what stays when the process "dies", as MongoDB would). */
  inner: ViewStore;
  views: GenerationalViewStore;
  consumer: string;
}

/**
 * The TodoList service with its views in generations over `inner`, so ProjectionAdminService can rebuild it. With a
 * gate, the rebuild's projector is held past a position.
 */
export async function startRebuildableTodo(
  address: string,
  options: {
    inner?: ViewStore;
    instanceId?: string;
    scope?: "shared" | "instance";
    gate?: RebuildGate;
    roles?: ("commands" | "views")[];
    /**
     * The projection throws on an item named "poison" while `broken` (dead-event-audit.ts), parking it after 3 quick
     * tries, and records every position it applies in an audit document per list, in the generation it writes.
     */
    poison?: { broken: boolean };
  } = {},
): Promise<RebuildableTodo> {
  const inner = options.inner ?? new EmbeddedViewStore();
  const views = await GenerationalViewStore.open(inner, "todo-lists");
  const poison = options.poison;
  // The service's own settings would try a poison event for ever; the projection's (3 quick tries) must hold for its
  // rebuild's stream and the one it switches to as well.
  const mesh = new MeshService({ address, component: "todo", instanceId: options.instanceId, deadEvents: poison && { attempts: 1_000_000, initialBackoffMs: 50, maxBackoffMs: 50 } });
  const deadEvents = poison && { attempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 };
  const roles = new Set(options.roles ?? ["commands", "views"]);
  const base = todoListProjection(views, options.scope ?? "instance");
  const gate = options.gate;
  const projection = {
    ...base,
    apply: async (...[event, meta, store]: Parameters<typeof base.apply>) => {
      if (gate !== undefined && store !== views) await gate.pass(meta.position);
      if (poison === undefined) return base.apply(event, meta, store);
      const audited = await auditWrite(event, meta, store, poison);
      return [...(await base.apply(event, meta, store)), audited];
    },
  };
  if (roles.has("commands")) mesh.addAggregate(todoListAggregate);
  if (roles.has("views")) mesh.addProjection(projection, { deadEvents }).addQueries(todoListQueries(new TracedViewStore(views), projection));
  await mesh.start();
  return { mesh, inner, views, consumer: mesh.consumerName(projection) };
}

export function projectionAdmin(address: string): ProjectionAdminServiceClient {
  return new ProjectionAdminServiceClient(address, credentials.createInsecure());
}

export async function projectionStatus(admin: ProjectionAdminServiceClient, projection: string) {
  const { projection: found } = await call(admin, admin.getProjection, { projection });
  if (found === undefined) throw new Error(`no status for ${projection}`);
  return found;
}

/**
 * The TodoList view as a fresh projection makes it: a consumer of its own (another name) from position 0 into an empty
 * store, until it reflects the head; its documents by id.
 */
export async function freshProjection(address: string, consumer: string): Promise<Map<string, unknown>> {
  const store = new EmbeddedViewStore();
  const client = new ConsumerClient(new ProjectionHandler(todoListProjection(store, "instance"), consumer), {
    address,
    consumer,
    instanceId: consumer,
    logger: silentLogger,
  });
  await client.start();
  await client.caughtUp();
  await client.drain();
  return documentsById(await store.find(TODO_LISTS, {}, { limit: 1_000 }));
}

export function documentsById(documents: { _id: string }[]): Map<string, unknown> {
  return new Map(documents.map((document) => [document._id, document]));
}
