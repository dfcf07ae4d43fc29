import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { callerOf } from "@recq-mesh/kit";

describe("the caller a handler sees", () => {
  it("is the subject and claims the gateway sent", () => {
    assert.deepEqual(callerOf({ "recq-caller-subject": "alice", "recq-caller-claims": '{"tenant":"acme"}', "x-other": "1" }), { subject: "alice", claims: { tenant: "acme" } });
    assert.deepEqual(callerOf({ "recq-caller-subject": "component:todo" }), { subject: "component:todo", claims: {} });
  });

  it("is undefined when the gateway authenticated no caller, and claims that do not parse are none", () => {
    assert.equal(callerOf({}), undefined);
    assert.equal(callerOf({ "recq-caller-subject": "" }), undefined);
    assert.deepEqual(callerOf({ "recq-caller-subject": "bob", "recq-caller-claims": "[1]" })?.claims, {});
    assert.deepEqual(callerOf({ "recq-caller-subject": "bob", "recq-caller-claims": "{" })?.claims, {});
  });
});
