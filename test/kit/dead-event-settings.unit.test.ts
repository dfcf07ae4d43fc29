import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { DEFAULT_DEAD_EVENT_SETTINGS, EmbeddedViewStore, MeshService, deadEventSettings } from "@recq-mesh/kit";
import { todoListProjection } from "@recq-mesh/todo";

describe("a consumer's dead-event settings", () => {
  it("defaults to 5 tries, 100 ms to 5 s apart, and takes any part given", () => {
    assert.deepEqual(deadEventSettings(undefined), { attempts: 5, initialBackoffMs: 100, maxBackoffMs: 5_000 });
    assert.deepEqual(deadEventSettings({ attempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 }), { attempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 });
    assert.deepEqual(deadEventSettings({ attempts: 2 }), { ...DEFAULT_DEAD_EVENT_SETTINGS, attempts: 2 });
  });

  it("refuses settings that make no sense, naming the setting", () => {
    assert.throws(() => deadEventSettings({ attempts: 0 }), /deadEvents.attempts must be an integer of at least 1, got 0/);
    assert.throws(() => deadEventSettings({ attempts: 1.5 }), /deadEvents.attempts/);
    assert.throws(() => deadEventSettings({ initialBackoffMs: -1 }), /deadEvents.initialBackoffMs must be an integer of at least 0/);
    assert.throws(() => deadEventSettings({ initialBackoffMs: 200, maxBackoffMs: 100 }), /deadEvents.maxBackoffMs \(100\) must not be below deadEvents.initialBackoffMs \(200\)/);
  });

  it("is checked when a projection is added, per projection over the service's default", () => {
    const mesh = new MeshService({ address: "127.0.0.1:1", component: "settings", deadEvents: { attempts: 0 } });
    assert.throws(() => mesh.addProjection(todoListProjection(new EmbeddedViewStore(), "shared")), /deadEvents.attempts/);
    const fixed = new MeshService({ address: "127.0.0.1:1", component: "settings", deadEvents: { attempts: 0 } });
    fixed.addProjection(todoListProjection(new EmbeddedViewStore(), "shared"), { deadEvents: { attempts: 3 } });
    fixed.close();
    mesh.close();
  });
});
