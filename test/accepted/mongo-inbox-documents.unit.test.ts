import assert from "node:assert/strict";
import { describe, test } from "@jest/globals";
import { Binary } from "mongodb";
import { acceptedCommandOf, inIdOrder, inboxDocumentOf, nextOrder, writtenUnheard } from "@recq-mesh/gateway/internal/accepted/mongo-inbox-documents";
import { acceptedCommand } from "./command-inbox.suite";

describe("the MongoDB inbox's documents", () => {
  test("a command survives the trip through its document, with the payload as a Binary or as a promoted Buffer", () => {
    const command = acceptedCommand({ replyTo: "channel-a" });
    const document = inboxDocumentOf(command, 7, "gateway-1", new Date(0));
    assert.equal(document._id, command.commandId);
    assert.equal(document.replyTo, "channel-a");
    assert.equal(document.claim, null);
    assert.deepEqual(acceptedCommandOf(document), command);
    const promoted = { ...document, payload: Buffer.from(command.payload) as unknown as Binary };
    assert.deepEqual(acceptedCommandOf(promoted), command);
    const withoutReplyTo = inboxDocumentOf(acceptedCommand(), 8, "gateway-1", new Date(0));
    assert.equal(withoutReplyTo.replyTo, null, "stored as null: BSON has no undefined");
    assert.equal(acceptedCommandOf(withoutReplyTo).replyTo, undefined);
  });

  test("the acceptance order always increases within a process, even when the clock stands still or goes back", () => {
    const first = nextOrder(0, 1_000);
    assert.equal(first, 1_000_000);
    assert.equal(nextOrder(first, 1_000), first + 1);
    assert.equal(nextOrder(first, 999), first + 1);
    assert.equal(nextOrder(first, 1_001), 1_001_000);
  });
});

describe("an add that meets its command id in the MongoDB inbox", () => {
  test("finds its own lost acceptance only in a document its gateway wrote and nobody claimed since", () => {
    assert.equal(writtenUnheard({ owner: "gateway-0", claim: null }, "gateway-0"), true);
    assert.equal(writtenUnheard({ owner: "gateway-1", claim: null }, "gateway-0"), false, "another gateway accepted it and runs it");
    assert.equal(writtenUnheard({ owner: "gateway-0", claim: "c1" }, "gateway-0"), false, "claimed: a claim hands it out");
  });
});

describe("a claim's page of commands", () => {
  test("comes back from the server in no particular order and is put in the order of its ids (acceptance order)", () => {
    const documents = [{ _id: "c" }, { _id: "a" }, { _id: "b" }];
    assert.deepEqual(inIdOrder(["a", "b", "c"], documents).map((document) => document._id), ["a", "b", "c"]);
  });

  test("leaves out an id whose document is gone (settled meanwhile)", () => {
    assert.deepEqual(inIdOrder(["a", "gone", "b"], [{ _id: "b" }, { _id: "a" }]).map((document) => document._id), ["a", "b"]);
  });
});
