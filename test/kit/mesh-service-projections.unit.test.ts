import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { EmbeddedViewStore, MeshService } from "@recq-mesh/kit";
import { todoListProjection } from "@recq-mesh/todo";

describe("MeshService projections", () => {
  it("refuses a second projection under a consumer name it has already: the two would share one checkpoint", () => {
    const mesh = new MeshService({ address: "127.0.0.1:1", component: "test" });
    const views = new EmbeddedViewStore();
    mesh.addProjection(todoListProjection(views, "shared"));
    assert.throws(() => mesh.addProjection(todoListProjection(views, "shared")), /is added already/);
    mesh.addProjection(todoListProjection(views, "instance"));
  });
});
