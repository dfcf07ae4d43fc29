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

  it("takes TODO_NOTIFICATION_WEBHOOK_URL as an http(s) URL, unset meaning notifications are logged", () => {
    assert.equal(loadTodoConfig({}).notificationWebhookUrl, undefined);
    assert.equal(loadTodoConfig({ TODO_NOTIFICATION_WEBHOOK_URL: " " }).notificationWebhookUrl, undefined);
    assert.equal(loadTodoConfig({ TODO_NOTIFICATION_WEBHOOK_URL: "http://127.0.0.1:8080/hooks/todo" }).notificationWebhookUrl, "http://127.0.0.1:8080/hooks/todo");
    for (const value of ["not a url", "ftp://example.com/hook", "127.0.0.1:8080"]) {
      assert.throws(() => loadTodoConfig({ TODO_NOTIFICATION_WEBHOOK_URL: value }), /TODO_NOTIFICATION_WEBHOOK_URL must be an http or https URL/);
    }
  });

  it("takes TODO_NOTIFICATION_TIMEOUT_MS as a positive integer, 5 s by default", () => {
    assert.equal(loadTodoConfig({}).notificationTimeoutMs, 5_000);
    assert.equal(loadTodoConfig({ TODO_NOTIFICATION_TIMEOUT_MS: "250" }).notificationTimeoutMs, 250);
    assert.throws(() => loadTodoConfig({ TODO_NOTIFICATION_TIMEOUT_MS: "0" }), /TODO_NOTIFICATION_TIMEOUT_MS must be a positive integer/);
  });
});
