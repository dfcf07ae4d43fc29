import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MAX_STATUS_MESSAGE_BYTES, MeshError, Reason } from "@recq-mesh/protocol";

describe("what a status may carry to a caller", () => {
  it("keeps a message of MAX_STATUS_MESSAGE_BYTES bytes whole, and cuts a longer one, saying so", () => {
    const exact = "a".repeat(MAX_STATUS_MESSAGE_BYTES);
    assert.equal(new MeshError(status.NOT_FOUND, exact).message, exact);
    const cut = new MeshError(status.NOT_FOUND, `${exact}b`).message;
    assert.ok(Buffer.byteLength(cut) <= MAX_STATUS_MESSAGE_BYTES, `${Buffer.byteLength(cut)} bytes`);
    assert.match(cut, /^a+ … \(1025 bytes, cut at 1024\)$/);
    assert.equal(new MeshError(status.NOT_FOUND, "x".repeat(140_000)).toStatus().details.length <= MAX_STATUS_MESSAGE_BYTES, true);
  });

  it("cuts between characters, never inside one", () => {
    const message = "é".repeat(MAX_STATUS_MESSAGE_BYTES); // two bytes each
    const cut = new MeshError(status.NOT_FOUND, message).message;
    assert.ok(Buffer.byteLength(cut) <= MAX_STATUS_MESSAGE_BYTES);
    assert.doesNotMatch(cut, /\uFFFD/);
    assert.match(cut, /^é+ … \(2048 bytes, cut at 1024\)$/);
  });

  it("keeps a well-formed reason, and replaces any other with the code's own", () => {
    assert.equal(new MeshError(status.FAILED_PRECONDITION, "m", "BOOK_LENT").reason, "BOOK_LENT");
    assert.equal(new MeshError(status.FAILED_PRECONDITION, "m", "x".repeat(100_000)).reason, Reason.DOMAIN_RULE);
    assert.equal(new MeshError(status.FAILED_PRECONDITION, "m", "not a reason\n").reason, Reason.DOMAIN_RULE);
    assert.equal(new MeshError(status.INVALID_ARGUMENT, "m", "R".repeat(65)).reason, Reason.INVALID_REQUEST);
    assert.equal(new MeshError(status.INVALID_ARGUMENT, "m", "R".repeat(64)).reason, "R".repeat(64));
  });
});
