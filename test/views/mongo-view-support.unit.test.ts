import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import {
  Binary,
  MongoBulkWriteError,
  MongoClient,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  MongoWriteConcernError,
  type BulkWriteResult,
  type WriteError,
} from "mongodb";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { assertNoScripts } from "@recq-mesh/kit/internal/views/filter-scripts";
import { CommitChanges, type FeedEvent } from "@recq-mesh/kit/internal/views/mongo-commit-changes";
import { commitFailure, indexFailure, readFailure } from "@recq-mesh/kit/internal/views/mongo-view-errors";
import { prepareWrites } from "@recq-mesh/kit/internal/views/mongo-view-writes";
import { type ViewWrite, ViewStoreError } from "@recq-mesh/kit";

const COMMIT = "commit of 'p' at 1 rejected, nothing applied";

describe("MongoDB view store: preparing a commit's writes", () => {
  it("turns put, update and delete into replaceOne (upsert), updateOne and deleteOne, one bulk write per run of a collection", () => {
    const runs = prepareWrites(
      [
        { kind: "put", collection: "lists", document: { _id: "l1", name: "Groceries", gone: undefined } },
        { kind: "update", collection: "lists", id: "l1", update: { $inc: { count: 1 }, $setOnInsert: { createdBy: "ann" } }, upsert: true },
        { kind: "delete", collection: "items", id: "i1" },
        { kind: "update", collection: "lists", id: "l2", update: { $set: { name: "x" } } },
      ],
      COMMIT,
    );
    assert.deepEqual(
      runs.map((run) => [run.collection, run.writes.map((w) => w.index)]),
      [
        ["lists", [0, 1]],
        ["items", [2]],
        ["lists", [3]],
      ],
    );
    assert.deepEqual(runs[0]?.writes[0]?.operation, { replaceOne: { filter: { _id: "l1" }, replacement: { _id: "l1", name: "Groceries" }, upsert: true } });
    assert.deepEqual(runs[0]?.writes[1]?.operation, {
      updateOne: { filter: { _id: "l1" }, update: { $inc: { count: 1 }, $setOnInsert: { createdBy: "ann" } }, upsert: true },
    });
    assert.deepEqual(runs[1]?.writes[0]?.operation, { deleteOne: { filter: { _id: "i1" } } });
    assert.deepEqual(runs[2]?.writes[0]?.operation, { updateOne: { filter: { _id: "l2" }, update: { $set: { name: "x" } }, upsert: false } });
    assert.equal(runs[1]?.writes[0]?.description, "delete items/i1");
  });

  it("copies values, so a caller changing its objects afterwards changes nothing", () => {
    const document = { _id: "l1", items: [{ title: "milk" }] };
    const [run] = prepareWrites([{ kind: "put", collection: "lists", document }], COMMIT);
    document.items[0]!.title = "changed";
    assert.deepEqual(run?.writes[0]?.operation, { replaceOne: { filter: { _id: "l1" }, replacement: { _id: "l1", items: [{ title: "milk" }] }, upsert: true } });
  });

  it("refuses what the embedded store refuses, before anything is sent, naming the write", () => {
    const refuse = (write: ViewWrite, code: string, message: RegExp) =>
      assert.throws(() => prepareWrites([{ kind: "put", collection: "lists", document: { _id: "ok" } }, write], COMMIT), (error: unknown) => {
        assert.ok(error instanceof ViewStoreError);
        assert.equal(error.code, code);
        assert.match(error.message, message);
        return true;
      });
    refuse({ kind: "update", collection: "lists", id: "l1", update: { $frobnicate: { a: 1 } } }, "INVALID_WRITE", /write 2 of 2 \(update lists\/l1\).*\$frobnicate/);
    refuse({ kind: "update", collection: "lists", id: "l1", update: { name: "x" } }, "INVALID_WRITE", /use a put/);
    refuse({ kind: "put", collection: "lists", document: { _id: "l1", value: 10n } }, "INVALID_WRITE", /bigint/);
    refuse({ kind: "put", collection: "lists", document: { _id: "l1", $set: 1 } }, "INVALID_WRITE", /'\$set'/);
    refuse({ kind: "put", collection: "a$b", document: { _id: "l1" } }, "INVALID_ARGUMENT", /collection name/);
    refuse({ kind: "delete", collection: "lists", id: 7 as unknown as string }, "INVALID_ARGUMENT", /_id must be a string/);
  });
});

describe("MongoDB view store: errors as ViewStoreError codes", () => {
  const result = {} as BulkWriteResult;
  const bulkError = (code: number, index: number, errmsg: string) =>
    new MongoBulkWriteError({ message: errmsg, code, writeErrors: [writeError(index, code, errmsg)] }, result);
  const runs = prepareWrites(
    [
      { kind: "put", collection: "lists", document: { _id: "l1" } },
      { kind: "put", collection: "lists", document: { _id: "l2" } },
    ],
    COMMIT,
  );

  it("names the write a bulk write error points at: DUPLICATE_KEY for E11000, INVALID_WRITE for a refused write", () => {
    const duplicate = commitFailure(bulkError(11000, 1, "E11000 duplicate key error"), runs[0], COMMIT, 2);
    assert.ok(duplicate instanceof ViewStoreError);
    assert.equal(duplicate.code, "DUPLICATE_KEY");
    assert.match(duplicate.message, /write 2 of 2 \(put lists\/l2\): E11000/);
    const immutable = commitFailure(bulkError(66, 0, "would modify the immutable field '_id'"), runs[0], COMMIT, 2);
    assert.equal(immutable instanceof ViewStoreError && immutable.code, "INVALID_WRITE");
  });

  it("makes an unavailable server, network or replica set UNAVAILABLE (STORE_UNAVAILABLE), the driver's error its cause", async () => {
    // The driver's own: a client that finds no server within its selection timeout (nothing listens on port 1).
    const client = new MongoClient("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200");
    const noServer: unknown = await client.connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    await client.close();
    assert.ok(noServer instanceof MongoServerSelectionError, String(noServer));
    // What the driver throws once its own retries are spent: a consumer must try the event again without counting
    // it toward parking, and a query caller may retry; a raw driver error is neither.
    const unavailable = [
      new MongoServerError({ message: "not primary", code: 10107, errorLabels: ["TransientTransactionError"] }),
      new MongoServerError({ message: "interrupted due to repl state change", code: 11602 }),
      new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 64, errmsg: "waiting for replication timed out", errInfo: { wtimeout: true } } }),
      new MongoNetworkError("connection 4 to 127.0.0.1:27017 closed"),
      noServer,
    ];
    for (const error of unavailable) {
      for (const mapped of [commitFailure(error, undefined, "commit of 'p' at 1", 1), readFailure(error, "invalid filter on 'lists'", "find on 'lists'"), indexFailure(error, "lists", { a: 1 })]) {
        assert.ok(mapped instanceof MeshError, `${error.message}: ${String(mapped)}`);
        assert.equal(mapped.code, status.UNAVAILABLE);
        assert.equal(mapped.reason, Reason.STORE_UNAVAILABLE);
        assert.equal(mapped.cause, error);
      }
    }
    const commit = commitFailure(unavailable[0], undefined, "commit of 'p' at 1", 1) as MeshError;
    assert.match(commit.message, /commit of 'p' at 1 may or may not be applied/);
    assert.match((readFailure(unavailable[3], "invalid filter on 'lists'", "find on 'lists'") as MeshError).message, /^find on 'lists': the view store's MongoDB is unavailable/);
  });

  it("maps a refused filter to INVALID_ARGUMENT and index conflicts to INDEX_CONFLICT or DUPLICATE_KEY", () => {
    const badFilter = readFailure(new MongoServerError({ message: "unknown operator: $frobnicate", code: 2 }), "invalid filter on 'lists'");
    assert.equal(badFilter instanceof ViewStoreError && badFilter.code, "INVALID_ARGUMENT");
    const conflict = indexFailure(new MongoServerError({ message: "Index already exists with different options", code: 85 }), "users", { email: 1 });
    assert.equal(conflict instanceof ViewStoreError && conflict.code, "INDEX_CONFLICT");
    const duplicates = indexFailure(new MongoServerError({ message: "E11000", code: 11000 }), "users", { email: 1 });
    assert.equal(duplicates instanceof ViewStoreError && duplicates.code, "DUPLICATE_KEY");
  });
});

describe("MongoDB view store: filters never run scripts", () => {
  it("refuses $where, $function and $accumulator anywhere in a filter", () => {
    for (const filter of [{ $where: "this.a > 1" }, { $expr: { $function: { body: "x", args: [], lang: "js" } } }, { $or: [{ a: 1 }, { $where: "1" }] }]) {
      assert.throws(() => assertNoScripts(filter), { name: "ViewStoreError", code: "INVALID_ARGUMENT" }, JSON.stringify(filter));
    }
    assertNoScripts({ name: { $regex: "^a", $options: "i" }, $and: [{ n: { $gt: 1 } }] });
  });
});

describe("MongoDB view store: which commit a change belongs to", () => {
  const session = new Binary(Buffer.from("0123456789abcdef"), 4);
  const event = (coll: string, id: string, txnNumber: number | undefined, position?: number): FeedEvent => ({
    _id: { token: `${coll}/${id}/${txnNumber}` },
    operationType: "replace",
    ns: { db: "views", coll },
    documentKey: { _id: id },
    ...(txnNumber === undefined ? {} : { lsid: { id: session }, txnNumber }),
    ...(position === undefined ? {} : { fullDocument: { position } }),
  });

  it("gives each changed document of the watched collection its transaction's checkpoint position, once", () => {
    const changes = new CommitChanges("lists");
    assert.deepEqual(changes.changesOf(event("recq_checkpoints", "projector", 1, 7)), []);
    assert.deepEqual(changes.changesOf(event("lists", "l1", 1)), [{ collection: "lists", id: "l1", position: 7 }]);
    assert.deepEqual(changes.changesOf(event("lists", "l1", 1)), [], "written twice in one commit: one change");
    assert.deepEqual(changes.changesOf(event("other", "x", 1)), []);
    assert.deepEqual(changes.changesOf(event("recq_checkpoints", "projector", 2, 8)), []);
    assert.deepEqual(changes.changesOf(event("lists", "l1", 2)), [{ collection: "lists", id: "l1", position: 8 }]);
  });

  it("ignores writes outside a commit, and lets view events wait for a checkpoint that comes later", () => {
    const changes = new CommitChanges("lists");
    assert.deepEqual(changes.changesOf(event("lists", "l9", undefined)), []);
    assert.deepEqual(changes.changesOf(event("lists", "l1", 5)), []);
    assert.deepEqual(changes.changesOf(event("lists", "l2", 5)), []);
    assert.deepEqual(changes.changesOf(event("recq_checkpoints", "projector", 5, 12)), [
      { collection: "lists", id: "l1", position: 12 },
      { collection: "lists", id: "l2", position: 12 },
    ]);
  });
});

/** What the driver puts in `MongoBulkWriteError.writeErrors` (its WriteError class is not exported at run time). */
function writeError(index: number, code: number, errmsg: string): WriteError {
  return { index, code, errmsg, errInfo: {}, err: { index, code, errmsg, errInfo: {}, op: {} } } as unknown as WriteError;
}
