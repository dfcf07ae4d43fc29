import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { EmbeddedViewStore, MeshService, ViewStoreCheckpoints, type ObserverDefinition } from "@recq-mesh/kit";
import { todoListProjection, todoNotifier, TODO_NOTIFIER } from "@recq-mesh/todo";
import { TodoAttachmentCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/attachments";

describe("MeshService services and observers", () => {
  it("refuses an observer under a consumer name a projection or another observer has: they would share one checkpoint", () => {
    const mesh = new MeshService({ address: "127.0.0.1:1", component: "test" });
    const views = new EmbeddedViewStore();
    const checkpoints = new ViewStoreCheckpoints(views);
    mesh.addObserver(todoNotifier(checkpoints));
    assert.throws(() => mesh.addObserver(todoNotifier(checkpoints)), new RegExp(`a consumer named ${TODO_NOTIFIER} is added already`));
    const projection = todoListProjection(views, "shared");
    mesh.addProjection(projection);
    const clash: ObserverDefinition<Record<string, never>> = { name: projection.name, events: {}, checkpoints, handle: () => undefined };
    assert.throws(() => mesh.addObserver(clash), /is added already/);
    const other = new MeshService({ address: "127.0.0.1:1", component: "test" });
    other.addObserver(clash);
    assert.throws(() => other.addProjection(projection), /is added already/);
  });

  it("refuses an upload as a service's command: a service handles unary commands", () => {
    const mesh = new MeshService({ address: "127.0.0.1:1", component: "test" });
    assert.throws(
      () => mesh.addService({ service: TodoAttachmentCommandServiceService, events: {}, handle: { attachFile: async () => [] } }),
      /todo\.v1\.TodoAttachmentCommandService\/AttachFile is an upload: a service handles unary commands only/,
    );
  });
});
