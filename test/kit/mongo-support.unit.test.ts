import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { MongoBulkWriteError, MongoNetworkError, MongoServerError, type BulkWriteResult, type WriteError } from "mongodb";
import { firstWriteError, isDuplicateKey, isRequestFault, serverCode } from "@recq-mesh/protocol/internal/mongo/mongo-errors";
import { MAX_MONGODB_COMMIT_TIMEOUT_MS, mongoCommitTimeoutFrom, mongoSettingsFrom } from "@recq-mesh/protocol";

describe("MongoDB settings from the environment", () => {
  it("chooses the embedded stores without MONGODB_URI, or with it empty", () => {
    assert.equal(mongoSettingsFrom({}, "recq"), undefined);
    assert.equal(mongoSettingsFrom({ MONGODB_URI: "  " }, "recq"), undefined);
  });

  it("takes the URI, and the database from RECQ_MONGODB_DATABASE or the service's default", () => {
    const uri = "mongodb://127.0.0.1:27017/?replicaSet=rs0";
    assert.deepEqual(mongoSettingsFrom({ MONGODB_URI: uri }, "recq"), { uri, database: "recq" });
    assert.deepEqual(mongoSettingsFrom({ MONGODB_URI: uri, RECQ_MONGODB_DATABASE: "prod_mesh" }, "recq"), { uri, database: "prod_mesh" });
    assert.deepEqual(mongoSettingsFrom({ MONGODB_URI: uri, RECQ_MONGODB_DATABASE: "" }, "recq_todo"), { uri, database: "recq_todo" });
  });

  it("refuses a database name MongoDB would refuse, at start", () => {
    for (const name of ["a.b", "with space", "a/b", "x".repeat(64), "$x"]) {
      assert.throws(() => mongoSettingsFrom({ MONGODB_URI: "mongodb://h", RECQ_MONGODB_DATABASE: name }, "recq"), /RECQ_MONGODB_DATABASE/, name);
    }
  });
});

describe("RECQ_MONGODB_COMMIT_TIMEOUT_MS, as the kit's stores read it", () => {
  it("is unset by default, and a whole number of milliseconds from 1", () => {
    assert.equal(mongoCommitTimeoutFrom({}), undefined);
    assert.equal(mongoCommitTimeoutFrom({ RECQ_MONGODB_COMMIT_TIMEOUT_MS: " " }), undefined);
    assert.equal(mongoCommitTimeoutFrom({ RECQ_MONGODB_COMMIT_TIMEOUT_MS: "1" }), 1);
    assert.throws(() => mongoCommitTimeoutFrom({ RECQ_MONGODB_COMMIT_TIMEOUT_MS: "0" }), /RECQ_MONGODB_COMMIT_TIMEOUT_MS/);
  });

  it("is at most 2^31−1−1000 ms: the server refuses a maxTimeMS past 2^31−1, and a commit's wtimeout is the bound plus 1 s", () => {
    assert.equal(MAX_MONGODB_COMMIT_TIMEOUT_MS + 1000, 2 ** 31 - 1);
    assert.equal(mongoCommitTimeoutFrom({ RECQ_MONGODB_COMMIT_TIMEOUT_MS: String(MAX_MONGODB_COMMIT_TIMEOUT_MS) }), MAX_MONGODB_COMMIT_TIMEOUT_MS);
    assert.throws(
      () => mongoCommitTimeoutFrom({ RECQ_MONGODB_COMMIT_TIMEOUT_MS: String(MAX_MONGODB_COMMIT_TIMEOUT_MS + 1) }),
      /RECQ_MONGODB_COMMIT_TIMEOUT_MS: "2147482648" is not a whole number of milliseconds from 1 to 2147482647/,
    );
  });
});

describe("reading the driver's errors", () => {
  const result = {} as BulkWriteResult;
  const bulkError = (code: number, index: number) =>
    new MongoBulkWriteError({ message: "bulk", code, writeErrors: [writeError(index, code, `E${code}`)] }, result);

  it("finds a duplicate key in a command error or in a bulk write's first write error, with its index", () => {
    assert.equal(isDuplicateKey(new MongoServerError({ message: "E11000 duplicate key", code: 11000 })), true);
    const bulk = bulkError(11000, 3);
    assert.equal(isDuplicateKey(bulk), true);
    assert.equal(firstWriteError(bulk)?.index, 3);
    assert.equal(isDuplicateKey(bulkError(14, 0)), false);
    assert.equal(isDuplicateKey(new Error("E11000")), false);
  });

  it("tells a refused request from an unavailable server", () => {
    assert.equal(isRequestFault(new MongoServerError({ message: "unknown operator: $frobnicate", code: 2 })), true);
    assert.equal(isRequestFault(new MongoServerError({ message: "not primary", code: 10107 })), false);
    const transient = new MongoServerError({ message: "WriteConflict", code: 112, errorLabels: ["TransientTransactionError"] });
    assert.equal(isRequestFault(transient), false);
    assert.equal(isRequestFault(new MongoNetworkError("connection reset")), false);
    assert.equal(serverCode(new MongoServerError({ message: "x", code: 48 })), 48);
    assert.equal(serverCode(new Error("x")), undefined);
  });
});

/** What the driver puts in `MongoBulkWriteError.writeErrors` (its WriteError class is not exported at run time). */
function writeError(index: number, code: number, errmsg: string): WriteError {
  return { index, code, errmsg, errInfo: {}, err: { index, code, errmsg, errInfo: {}, op: {} } } as unknown as WriteError;
}
