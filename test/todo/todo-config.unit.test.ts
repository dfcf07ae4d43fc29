import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { loadTodoConfig } from "@recq-mesh/todo";

describe("TodoList service settings", () => {
  it("takes RECQ_CATCH_UP_TIMEOUT_MS as a positive integer, and leaves the kit's default when it is unset", () => {
    assert.equal(loadTodoConfig({}).catchUpTimeoutMs, undefined);
    assert.equal(loadTodoConfig({ RECQ_CATCH_UP_TIMEOUT_MS: "" }).catchUpTimeoutMs, undefined);
    assert.equal(loadTodoConfig({ RECQ_CATCH_UP_TIMEOUT_MS: "1" }).catchUpTimeoutMs, 1);
    assert.equal(loadTodoConfig({ RECQ_CATCH_UP_TIMEOUT_MS: "600000" }).catchUpTimeoutMs, 600_000);
  });

  it("stops at start on a RECQ_CATCH_UP_TIMEOUT_MS that is not a positive integer, naming it", () => {
    for (const value of ["0", "-5", "1.5", "abc", "1e3", "99999999999999999999"]) {
      assert.throws(() => loadTodoConfig({ RECQ_CATCH_UP_TIMEOUT_MS: value }), new RegExp(`RECQ_CATCH_UP_TIMEOUT_MS must be a positive integer, got "${value.replace(".", "\\.")}"`));
    }
  });
});
