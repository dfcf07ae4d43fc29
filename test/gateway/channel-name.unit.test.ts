import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError } from "@recq-mesh/protocol";
import { checkChannelName, replyChannelOf } from "@recq-mesh/gateway/internal/channels/channel-name";

describe("reply channel names", () => {
  it("takes 1 to 128 characters of A-Z a-z 0-9 . _ ~ -", () => {
    assert.equal(checkChannelName("a", "the channel"), "a");
    assert.equal(checkChannelName("x".repeat(128), "the channel"), "x".repeat(128));
    assert.equal(checkChannelName("Replies.v2_node-1~a", "the channel"), "Replies.v2_node-1~a");
  });

  it("refuses an empty name, one of 129 characters, and any other character, with INVALID_ARGUMENT", () => {
    for (const name of ["", "x".repeat(129), "a b", "a/b", "é", "a\n"]) {
      assert.throws(
        () => checkChannelName(name, "recq-reply-to"),
        (error: unknown) => error instanceof MeshError && error.code === status.INVALID_ARGUMENT && /^recq-reply-to ".*" is not a channel name/s.test(error.message),
        JSON.stringify(name),
      );
    }
  });

  it("reads recq-reply-to: absent is no channel", () => {
    assert.equal(replyChannelOf(undefined), undefined);
    assert.equal(replyChannelOf("mine"), "mine");
    assert.throws(() => replyChannelOf(""), MeshError);
  });
});
