import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { afterEach, describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshError, type BlobStore } from "@recq-mesh/kit";

/** One adapter under test: the store, and what it holds besides (to show that a failed write leaves nothing). */
export interface BlobStoreFixture {
  store: BlobStore;
  /** Blobs a reader can find. */
  visible(): Promise<number>;
  /** Pieces of unfinished writes: temporary files, orphan chunks. */
  unfinished(): Promise<number>;
  cleanup(): Promise<void>;
}

async function* pieces(...parts: Buffer[]): AsyncIterable<Buffer> {
  for (const part of parts) yield part;
}

async function* failingAfter(parts: Buffer[], error: Error): AsyncIterable<Buffer> {
  for (const part of parts) yield part;
  throw error;
}

async function readAll(store: BlobStore, reference: string, chunkBytes: number): Promise<Buffer[]> {
  const read: Buffer[] = [];
  for await (const piece of store.read(reference, { chunkBytes })) read.push(Buffer.from(piece));
  return read;
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The blob store contract: every adapter passes it (folder always; GridFS when MONGODB_URI is set). */
export function runBlobStoreContract(name: string, open: () => Promise<BlobStoreFixture>): void {
  describe(`blob store contract: ${name}`, () => {
    let fixture: BlobStoreFixture | undefined;
    const start = async () => (fixture = await open());
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it("stores content written in pieces and reads it back in pieces of the asked size, with its size and SHA-256", async () => {
      const { store, visible } = await start();
      const parts = [randomBytes(100_000), randomBytes(1), randomBytes(300_000)];
      const whole = Buffer.concat(parts);
      const stored = await store.write(pieces(...parts));
      assert.equal(stored.size, whole.length);
      assert.equal(stored.sha256, sha256(whole));
      const read = await readAll(store, stored.reference, 64 * 1024);
      assert.ok(Buffer.concat(read).equals(whole));
      assert.deepEqual(
        read.map((p) => p.length),
        [...Array(Math.floor(whole.length / 65536)).fill(65536), whole.length % 65536],
      );
      assert.equal(await visible(), 1);
    });

    it("stores empty content: size 0, the empty digest, nothing to read", async () => {
      const { store } = await start();
      const stored = await store.write(pieces());
      assert.deepEqual({ size: stored.size, sha256: stored.sha256 }, { size: 0, sha256: sha256(Buffer.alloc(0)) });
      assert.deepEqual(await readAll(store, stored.reference, 1024), []);
    });

    it("gives each write its own reference", async () => {
      const { store, visible } = await start();
      const a = await store.write(pieces(Buffer.from("same")));
      const b = await store.write(pieces(Buffer.from("same")));
      assert.notEqual(a.reference, b.reference);
      assert.equal(await visible(), 2);
    });

    it("answers NOT_FOUND for a reference it does not hold, or one that is not a reference at all", async () => {
      const { store } = await start();
      for (const reference of ["0123456789abcdef01234567", "5b1f0c2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f", "../etc/passwd", ""]) {
        await assert.rejects(readAll(store, reference, 1024), (error: unknown) => error instanceof MeshError && error.code === status.NOT_FOUND);
      }
    });

    it("keeps nothing of a write whose content fails midway", async () => {
      const { store, visible, unfinished } = await start();
      const cause = new Error("the upload was cut off");
      await assert.rejects(store.write(failingAfter([randomBytes(300_000), randomBytes(300_000)], cause)), (error: unknown) => error === cause);
      assert.deepEqual([await visible(), await unfinished()], [0, 0]);
    });

    it("keeps nothing of a write whose signal is aborted midway", async () => {
      const { store, visible, unfinished } = await start();
      const controller = new AbortController();
      const reason = new MeshError(status.CANCELLED, "gone");
      async function* abortingAfterFirst(): AsyncIterable<Buffer> {
        yield randomBytes(300_000);
        controller.abort(reason);
        yield randomBytes(300_000);
      }
      await assert.rejects(store.write(abortingAfterFirst(), { signal: controller.signal }), (error: unknown) => error === reason);
      assert.deepEqual([await visible(), await unfinished()], [0, 0]);
    });

    it("maxBytes: content of exactly the limit is stored; one byte more is refused with RESOURCE_EXHAUSTED and nothing kept", async () => {
      const { store, visible, unfinished } = await start();
      const stored = await store.write(pieces(randomBytes(1000), randomBytes(24)), { maxBytes: 1024 });
      assert.equal(stored.size, 1024);
      await assert.rejects(
        store.write(pieces(randomBytes(1000), randomBytes(25)), { maxBytes: 1024 }),
        (error: unknown) => error instanceof MeshError && error.code === status.RESOURCE_EXHAUSTED,
      );
      assert.deepEqual([await visible(), await unfinished()], [1, 0]);
    });
  });
}
