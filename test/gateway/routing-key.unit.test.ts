import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { CreateTodoList, AddTodoItem } from "@recq-mesh/todo/gen/todo/v1/commands";
import { checkWellFormed, readRoutingKey } from "@recq-mesh/gateway/internal/descriptors/routing-key";
import { MeshError, Reason } from "@recq-mesh/protocol";

const LIST_ID = 1;

describe("readRoutingKey", () => {
  it("reads the key of a generated command", () => {
    const request = Buffer.from(AddTodoItem.encode({ listId: "list-42", itemId: "i1", text: "milk" }).finish());
    assert.equal(readRoutingKey(request, LIST_ID), "list-42");
    assert.equal(readRoutingKey(request, 2), "i1");
  });

  it("finds the key after other fields of every wire type", () => {
    const request = encode((writer) => {
      writer.tag(2, WireType.Varint).uint64(2n ** 64n - 1n);
      writer.tag(3, WireType.Bit64).fixed64(7n);
      writer.tag(4, WireType.Bit32).fixed32(9);
      writer.tag(5, WireType.LengthDelimited).bytes(new Uint8Array(300));
      writer.tag(LIST_ID, WireType.LengthDelimited).string("after-all");
      writer.tag(536_870_911, WireType.Varint).int32(-1);
    });
    assert.equal(readRoutingKey(request, LIST_ID), "after-all");
  });

  it("takes the last occurrence, as a protobuf merge does", () => {
    const request = encode((writer) => {
      writer.tag(LIST_ID, WireType.LengthDelimited).string("first");
      writer.tag(2, WireType.LengthDelimited).string("name");
      writer.tag(LIST_ID, WireType.LengthDelimited).string("last");
    });
    assert.equal(readRoutingKey(request, LIST_ID), "last");
  });

  it("answers an empty string when the field is absent or empty", () => {
    assert.equal(readRoutingKey(Buffer.alloc(0), LIST_ID), "");
    assert.equal(readRoutingKey(Buffer.from(CreateTodoList.encode({ listId: "", name: "n" }).finish()), LIST_ID), "");
    assert.equal(readRoutingKey(encode((writer) => writer.tag(LIST_ID, WireType.LengthDelimited).string("")), LIST_ID), "");
  });

  it("decodes unicode keys", () => {
    for (const key of ["liste-ü", "清单-1", "🧾 groceries", "a\u0000b"]) {
      const request = Buffer.from(CreateTodoList.encode({ listId: key, name: "x" }).finish());
      assert.equal(readRoutingKey(request, LIST_ID), key);
    }
  });

  it("accepts a genuine U+FFFD in a key", () => {
    const request = Buffer.from(CreateTodoList.encode({ listId: "a\uFFFDb", name: "" }).finish());
    assert.equal(readRoutingKey(request, LIST_ID), "a\uFFFDb");
  });

  it("reads a key whose length needs a multi-byte varint", () => {
    const key = "k".repeat(20_000);
    assert.equal(readRoutingKey(Buffer.from(CreateTodoList.encode({ listId: key, name: "" }).finish()), LIST_ID), key);
  });

  it("reads keys from a view into a larger buffer", () => {
    const inner = Buffer.from(CreateTodoList.encode({ listId: "in-the-middle", name: "n" }).finish());
    const pool = Buffer.concat([Buffer.from([0xff, 0xff]), inner, Buffer.from([0x80])]);
    assert.equal(readRoutingKey(pool.subarray(2, 2 + inner.length), LIST_ID), "in-the-middle");
  });
});

describe("readRoutingKey and checkWellFormed refuse malformed requests with INVALID_ARGUMENT", () => {
  const malformed: Array<[string, Buffer, RegExp]> = [
    ["a truncated tag varint", Buffer.from([0x80]), /tag at byte 0 is truncated/],
    ["a truncated value varint", Buffer.from([0x10, 0xff, 0xff]), /varint of field 2 at byte 1 is truncated/],
    ["a varint longer than 10 bytes", Buffer.from([0x10, ...new Array<number>(10).fill(0xff), 0x01]), /longer than 10 bytes/],
    ["a length past the end", Buffer.from([0x0a, 0x05, 0x61, 0x62]), /field 1 needs 5 bytes but only 2 remain/],
    ["a truncated length varint", Buffer.from([0x12, 0x80]), /length of field 2 at byte 1 is truncated/],
    ["a truncated fixed64", Buffer.from([0x19, 1, 2, 3]), /field 3 needs 8 bytes but only 3 remain/],
    ["a truncated fixed32", Buffer.from([0x1d, 1]), /field 3 needs 4 bytes but only 1 remain/],
    ["a start-group wire type", Buffer.from([0x13]), /group \(wire type 3\)/],
    ["an end-group wire type", Buffer.from([0x14]), /group \(wire type 4\)/],
    ["wire type 6", Buffer.from([0x16]), /invalid wire type 6/],
    ["wire type 7", Buffer.from([0x17]), /invalid wire type 7/],
    ["field number 0", Buffer.from([0x02, 0x00]), /field number 0 at byte 0/],
    ["a tag beyond 32 bits", Buffer.from([0x82, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00]), /tag at byte 0 is out of range/],
    ["malformed bytes after the key", Buffer.concat([Buffer.from([0x0a, 0x01, 0x61]), Buffer.from([0x0f])]), /invalid wire type 7/],
  ];

  for (const [what, request, message] of malformed) {
    it(`refuses ${what}`, () => {
      assert.throws(() => readRoutingKey(request, LIST_ID), invalidArgument(message));
      assert.throws(() => checkWellFormed(request), invalidArgument(message));
    });
  }

  it("refuses the routing key field with a wire type other than length-delimited", () => {
    const request = encode((writer) => writer.tag(LIST_ID, WireType.Varint).int32(5));
    assert.throws(() => readRoutingKey(request, LIST_ID), invalidArgument(/routing key field 1 has wire type 0/));
    assert.doesNotThrow(() => checkWellFormed(request));
  });

  it("refuses a routing key that is not valid UTF-8", () => {
    const request = Buffer.from([0x0a, 0x03, 0x61, 0xc3, 0x28]);
    assert.throws(() => readRoutingKey(request, LIST_ID), invalidArgument(/routing key field 1 is not valid UTF-8/));
  });

  it("keeps working after a refusal (the shared scanner is reset)", () => {
    assert.throws(() => readRoutingKey(Buffer.from([0x0a, 0x09]), LIST_ID));
    assert.equal(readRoutingKey(Buffer.from(CreateTodoList.encode({ listId: "ok", name: "" }).finish()), LIST_ID), "ok");
  });
});

describe("checkWellFormed", () => {
  it("accepts well-formed messages, including the empty one", () => {
    checkWellFormed(Buffer.alloc(0));
    checkWellFormed(Buffer.from(AddTodoItem.encode({ listId: "l", itemId: "i", text: "t" }).finish()));
  });

  it("does not enter nested messages: their bytes are the handler's to decode", () => {
    const request = encode((writer) => writer.tag(3, WireType.LengthDelimited).bytes(Uint8Array.of(0xff, 0xff)));
    assert.doesNotThrow(() => checkWellFormed(request));
  });
});

function encode(write: (writer: BinaryWriter) => void): Buffer {
  const writer = new BinaryWriter();
  write(writer);
  return Buffer.from(writer.finish());
}

function invalidArgument(message: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof MeshError, `expected a MeshError, got ${String(error)}`);
    assert.equal(error.code, status.INVALID_ARGUMENT);
    assert.equal(error.reason, Reason.INVALID_REQUEST);
    assert.match(error.message, message);
    return true;
  };
}
