import assert from "node:assert/strict";
import { afterEach, describe, test } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { SagaStates } from "@recq-mesh/gateway/internal/sagas/saga-states";
import type { EventStore } from "@recq-mesh/gateway/internal/store/event-store";

export interface OpenedStore {
  store: EventStore;
  /** Closes the store and opens it again on the same data. */
  reopen(): Promise<EventStore>;
  cleanup(): Promise<void>;
}

const LIMITS = { maxStateBytes: 64, maxAssociationBytes: 16 };

function state(text: string) {
  return { type: "test.v1.State", payload: Buffer.from(text) };
}

async function refusal(promise: Promise<unknown>): Promise<MeshError> {
  try {
    await promise;
  } catch (thrown) {
    assert.ok(thrown instanceof MeshError, `not a MeshError: ${String(thrown)}`);
    return thrown;
  }
  throw new Error("the call succeeded, but it should have failed");
}

/** Saga state over an event store adapter: each adapter runs the same contract. */
export function runSagaStatesContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`saga states on the ${name} event store`, () => {
    let opened: OpenedStore | undefined;
    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    });
    const states = async () => {
      opened = await open();
      return new SagaStates(opened.store, LIMITS);
    };

    test("an instance without steps does not exist; each step is loaded back, with the position handled and the end", async () => {
      const sagas = await states();
      assert.deepEqual(await sagas.load("transfer", "t1"), { exists: false, version: "0", state: undefined, ended: false, lastPosition: "0" });
      assert.equal(await sagas.record({ saga: "transfer", association: "t1", expectedVersion: 0, position: 7, state: state("one"), ended: false }), 1);
      assert.equal(await sagas.record({ saga: "transfer", association: "t1", expectedVersion: 1, position: 9, state: state("two"), ended: true }), 2);
      const loaded = await sagas.load("transfer", "t1");
      assert.equal(loaded.exists, true);
      assert.equal(loaded.version, "2");
      assert.equal(loaded.ended, true);
      assert.equal(loaded.lastPosition, "9");
      assert.equal(loaded.state?.type, "test.v1.State");
      assert.equal(Buffer.from(loaded.state!.payload).toString(), "two");
      // Another instance, another saga: apart.
      assert.equal((await sagas.load("transfer", "t2")).exists, false);
      assert.equal((await sagas.load("other", "t1")).exists, false);
    });

    test("the state survives a restart of the store", async () => {
      await states();
      const sagas = new SagaStates(opened!.store, LIMITS);
      await sagas.record({ saga: "transfer", association: "t1", expectedVersion: 0, position: 3, state: state("kept"), ended: false });
      const reopened = new SagaStates(await opened!.reopen(), LIMITS);
      const loaded = await reopened.load("transfer", "t1");
      assert.equal(loaded.version, "1");
      assert.equal(loaded.lastPosition, "3");
      assert.equal(Buffer.from(loaded.state!.payload).toString(), "kept");
    });

    test("a step decided on an old version conflicts; the same step again (its answer lost) gets its version", async () => {
      const sagas = await states();
      await sagas.record({ saga: "transfer", association: "t1", expectedVersion: 0, position: 5, state: state("a"), ended: false });
      // The same step again: recorded once, answered with the version it made.
      assert.equal(await sagas.record({ saga: "transfer", association: "t1", expectedVersion: 0, position: 5, state: state("a"), ended: false }), 1);
      const conflict = await refusal(sagas.record({ saga: "transfer", association: "t1", expectedVersion: 0, position: 6, state: state("b"), ended: false }));
      assert.equal(conflict.code, status.ABORTED);
      assert.equal(conflict.reason, Reason.AGGREGATE_CONFLICT);
      assert.equal((await sagas.load("transfer", "t1")).version, "1");
    });

    test("a state of RECQ_MAX_SAGA_STATE_BYTES is kept; one byte more is refused, and nothing is recorded", async () => {
      const sagas = await states();
      const type = "test.v1.State";
      const atLimit = { type, payload: Buffer.alloc(LIMITS.maxStateBytes - type.length, 1) };
      assert.equal(await sagas.record({ saga: "s", association: "a", expectedVersion: 0, position: 1, state: atLimit, ended: false }), 1);
      const over = { type, payload: Buffer.alloc(LIMITS.maxStateBytes - type.length + 1, 1) };
      const refused = await refusal(sagas.record({ saga: "s", association: "a", expectedVersion: 1, position: 2, state: over, ended: false }));
      assert.equal(refused.code, status.INVALID_ARGUMENT);
      assert.equal(refused.reason, Reason.SAGA_STATE_TOO_LARGE);
      assert.equal((await sagas.load("s", "a")).version, "1");
    });

    test("an association of RECQ_MAX_ROUTING_KEY_BYTES is accepted, one byte more refused; saga and association are required", async () => {
      const sagas = await states();
      const atLimit = "x".repeat(LIMITS.maxAssociationBytes);
      assert.equal(await sagas.record({ saga: "s", association: atLimit, expectedVersion: 0, position: 1, state: state(""), ended: false }), 1);
      for (const [saga, association] of [["s", `${atLimit}x`], ["", "a"], ["s", ""]]) {
        const refused = await refusal(sagas.load(saga!, association!));
        assert.equal(refused.code, status.INVALID_ARGUMENT);
      }
      const noPosition = await refusal(sagas.record({ saga: "s", association: "b", expectedVersion: 0, position: 0, state: state(""), ended: false }));
      assert.equal(noPosition.code, status.INVALID_ARGUMENT);
    });
  });
}
