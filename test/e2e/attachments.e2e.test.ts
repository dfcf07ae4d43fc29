import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { afterEach, beforeEach, describe, it } from "@jest/globals";
import { credentials, Metadata, status, type ClientWritableStream, type ServiceError } from "@grpc/grpc-js";
import { FolderBlobStore, MeshService, REASON_METADATA_KEY } from "@recq-mesh/kit";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import { AttachFile, TodoAttachmentCommandServiceClient, TodoAttachmentQueryServiceClient } from "@recq-mesh/todo/gen/todo/v1/attachments";
import { TodoItemFileAttached } from "@recq-mesh/todo/gen/todo/v1/events";
import type { GatewayLimits } from "@recq-mesh/gateway";
import { call, eventually, startGateway, tempDir, todoClients, type RunningGateway, startTodoWithAttachments } from "../support/mesh-harness";
import { HeldBlobStore } from "../support/held-blob-store";

// Real gateway, real TodoList handler (aggregate, projection, queries) linked over gRPC on 127.0.0.1, real folder
// blob store in a temp folder. Needs nothing else.

const LIST = "list-files";
const ITEM = "item-1";
const CHUNK = 64 * 1024;


describe("file attachments: uploads and downloads through the gateway", () => {
  let data: { dir: string; remove(): Promise<void> };
  let blobDir: { dir: string; remove(): Promise<void> };
  let running: RunningGateway;
  let mesh: MeshService;
  let blobs: HeldBlobStore;
  let attach: TodoAttachmentCommandServiceClient;
  let download: TodoAttachmentQueryServiceClient;
  let todo: ReturnType<typeof todoClients>;

  async function start(limits: Partial<GatewayLimits> = {}, maxAttachmentBytes = 64 * 1024 * 1024): Promise<void> {
    running = await startGateway(data.dir, { limits });
    blobs = new HeldBlobStore(await FolderBlobStore.open(blobDir.dir));
    mesh = await startTodoWithAttachments(running.address, blobs, { maxAttachmentBytes: maxAttachmentBytes, downloadChunkBytes: CHUNK });
    attach = new TodoAttachmentCommandServiceClient(running.address, credentials.createInsecure());
    download = new TodoAttachmentQueryServiceClient(running.address, credentials.createInsecure());
    todo = todoClients(running.address);
    await call(todo.commands, todo.commands.createTodoList, { listId: LIST, name: "files" });
    await call(todo.commands, todo.commands.addTodoItem, { listId: LIST, itemId: ITEM, text: "with a file" });
  }

  beforeEach(async () => {
    data = await tempDir("attach-gw");
    blobDir = await tempDir("attach-blobs");
  });

  afterEach(async () => {
    attach?.close();
    download?.close();
    todo?.close();
    mesh?.close();
    await running?.gateway.stop();
    await running?.store.close();
    await data.remove();
    await blobDir.remove();
  });

  /** Starts an upload: the first message, then nothing more until the caller writes. */
  function openUpload(metadata = new Metadata(), deadlineMs = 30_000) {
    let settle!: { resolve: (ack: CommandAck) => void; reject: (error: ServiceError) => void };
    const answer = new Promise<CommandAck>((resolve, reject) => (settle = { resolve, reject }));
    const stream: ClientWritableStream<AttachFile> = attach.attachFile(metadata, { deadline: Date.now() + deadlineMs }, (error, ack) =>
      error ? settle.reject(error) : settle.resolve(ack!),
    );
    return { stream, answer };
  }

  function first(content: Buffer = Buffer.alloc(0)): AttachFile {
    return { listId: LIST, itemId: ITEM, fileName: "notes.bin", contentType: "application/octet-stream", content };
  }

  function more(content: Buffer): AttachFile {
    return { listId: "", itemId: "", fileName: "", contentType: "", content };
  }

  /** Uploads `content` in CHUNK pieces (after a first message without content), honouring back-pressure. */
  async function upload(content: Buffer, chunk = CHUNK): Promise<CommandAck> {
    const { stream, answer } = openUpload();
    stream.write(first());
    for (let offset = 0; offset < content.length; offset += chunk) {
      if (!stream.write(more(content.subarray(offset, offset + chunk)))) await new Promise((r) => stream.once("drain", r));
    }
    stream.end();
    return answer;
  }

  function downloadAll(reference: string): Promise<{ bytes: Buffer; chunks: number }> {
    return new Promise((resolve, reject) => {
      const pieces: Buffer[] = [];
      const stream = download.downloadAttachment({ listId: LIST, itemId: ITEM, reference }, { deadline: Date.now() + 30_000 });
      stream.on("data", (chunk: { content: Buffer }) => pieces.push(chunk.content));
      stream.on("error", reject);
      stream.on("end", () => resolve({ bytes: Buffer.concat(pieces), chunks: pieces.length }));
    });
  }

  async function attachedEvents(): Promise<TodoItemFileAttached[]> {
    const events = await running.store.readAll(0, 1_000);
    return events.filter((e) => e.type === "todo.v1.TodoItemFileAttached").map((e) => TodoItemFileAttached.decode(e.payload));
  }

  async function blobFolder(): Promise<{ blobs: string[]; incoming: string[] }> {
    // Copied into this realm's arrays: strict deep equality compares prototypes, and fs's arrays come from Node's.
    const entries = [...(await readdir(blobDir.dir))];
    return { blobs: entries.filter((e) => e !== ".incoming"), incoming: [...(await blobs.inner.incoming())] };
  }

  it("uploads a file in chunks and downloads the same bytes; the event and the view carry its reference, size and digest", async () => {
    await start();
    const content = randomBytes(3 * 1024 * 1024 + 123);
    const sha256 = createHash("sha256").update(content).digest("hex");
    const ack = await upload(content);
    assert.ok(Number(ack.position) > 0);

    const [event] = await attachedEvents();
    assert.ok(event, "a TodoItemFileAttached event was appended");
    assert.deepEqual({ ...event, reference: "" }, { listId: LIST, itemId: ITEM, reference: "", fileName: "notes.bin", contentType: "application/octet-stream", size: String(content.length), sha256 });
    assert.deepEqual((await blobFolder()).blobs, [event.reference]);

    const view = await eventually(async () => {
      const list = await call(todo.queries, todo.queries.getTodoList, { listId: LIST });
      if (list.items[0]?.attachments.length !== 1) throw new Error("the view has no attachment yet");
      return list;
    });
    assert.deepEqual(view.items[0]!.attachments, [{ reference: event.reference, fileName: "notes.bin", contentType: "application/octet-stream", size: String(content.length), sha256 }]);

    const downloaded = await downloadAll(event.reference);
    assert.equal(createHash("sha256").update(downloaded.bytes).digest("hex"), sha256);
    assert.ok(downloaded.bytes.equals(content));
    assert.equal(downloaded.chunks, Math.ceil(content.length / CHUNK));
  });

  it("a slow handler slows the uploader: while the handler reads nothing, the caller gets only a bounded part of the file out", async () => {
    await start();
    blobs.hold();
    const total = 20 * 1024 * 1024;
    const { stream, answer } = openUpload();
    stream.write(first());
    // Writes as fast as the transport takes them; counts what it took.
    let taken = 0;
    let stopped = false;
    const pump = (async () => {
      const piece = randomBytes(CHUNK);
      while (!stopped && taken < total) {
        const flushed = new Promise<void>((resolve) => stream.write(more(piece), () => resolve()));
        await flushed;
        taken += CHUNK;
      }
    })();
    // Held after its first piece: the handler took one chunk, so the gateway was granted the window and stopped.
    await eventually(async () => assert.equal(blobs.piecesRead, 1));
    await new Promise((r) => setTimeout(r, 1_000));
    const whileHeld = taken;
    // The kit's window (4) + grpc-js's read-ahead (16 messages) + HTTP/2 and socket buffers: a few MiB, not 20.
    assert.ok(whileHeld < 8 * 1024 * 1024, `the caller got ${whileHeld} bytes out while the handler read nothing`);
    blobs.release();
    await pump;
    stopped = true;
    stream.end();
    const ack = await answer;
    assert.ok(Number(ack.position) > 0);
    const [event] = await attachedEvents();
    assert.equal(event!.size, String(total));
  });

  it("a download goes at its caller's pace: while the caller reads nothing, the handler reads only a window ahead", async () => {
    await start();
    const content = randomBytes(20 * 1024 * 1024);
    await upload(content);
    const [event] = await attachedEvents();
    await eventually(async () => {
      const list = await call(todo.queries, todo.queries.getTodoList, { listId: LIST });
      if (list.items[0]?.attachments.length !== 1) throw new Error("the view has no attachment yet");
    });
    const stream = download.downloadAttachment({ listId: LIST, itemId: ITEM, reference: event!.reference }, { deadline: Date.now() + 30_000 });
    const pieces: Buffer[] = [];
    // Reads one chunk, then stops reading. (A grpc-js client that never started reading takes in whatever comes.)
    await new Promise<void>((resolve) =>
      stream.once("data", (chunk: { content: Buffer }) => {
        stream.pause();
        pieces.push(chunk.content);
        resolve();
      }),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    // RECQ_STREAM_ANSWER_WINDOW (16) + what the caller's connection buffers: far from the file's 320 chunks.
    const served = blobs.piecesServed;
    
    assert.ok(served < 80, `the handler read ${served} of ${content.length / CHUNK} chunks while the caller read nothing`);
    const ended = new Promise<void>((resolve, reject) => {
      stream.on("data", (chunk: { content: Buffer }) => pieces.push(chunk.content));
      stream.on("error", reject);
      stream.on("end", resolve);
    });
    stream.resume();
    await ended;
    assert.ok(Buffer.concat(pieces).equals(content));
  });

  it("keeps its aggregate's order: a command for the same list sent while the upload streams runs after it", async () => {
    await start();
    blobs.hold();
    const { stream, answer } = openUpload();
    stream.write(first(randomBytes(CHUNK)));
    await eventually(async () => assert.equal(blobs.piecesRead, 1));
    const settled: string[] = [];
    const uploaded = answer.then((ack) => (settled.push("upload"), ack));
    const completed = call(todo.commands, todo.commands.completeTodoItem, { listId: LIST, itemId: ITEM }, {}, 30_000).then((ack) => (settled.push("complete"), ack));
    // The other list is not held up.
    await call(todo.commands, todo.commands.createTodoList, { listId: "another", name: "another" });
    assert.deepEqual(settled, []);
    blobs.release();
    stream.end();
    const [uploadAck, completeAck] = await Promise.all([uploaded, completed]);
    assert.deepEqual(settled, ["upload", "complete"]);
    assert.ok(Number(uploadAck.sequence) < Number(completeAck.sequence));
  });

  it("an upload cut off midway stores nothing, appends no event, and leaves nothing in the blob folder", async () => {
    await start();
    blobs.hold();
    const { stream, answer } = openUpload();
    stream.write(first(randomBytes(CHUNK)));
    for (let i = 0; i < 8; i++) stream.write(more(randomBytes(CHUNK)));
    await eventually(async () => assert.equal(blobs.piecesRead, 1));
    assert.equal((await blobFolder()).incoming.length, 1, "the write in progress has its temporary file");
    stream.cancel();
    const error = await answer.then(
      () => assert.fail("the upload succeeded"),
      (e: ServiceError) => e,
    );
    assert.equal(error.code, status.CANCELLED);
    blobs.release();
    await eventually(async () => assert.deepEqual(await blobFolder(), { blobs: [], incoming: [] }));
    assert.deepEqual(await attachedEvents(), []);
    // The list goes on: the next command of the aggregate runs.
    await call(todo.commands, todo.commands.completeTodoItem, { listId: LIST, itemId: ITEM });
  });

  it("an upload whose handler's link is lost midway, or whose deadline passes, stores nothing and appends no event", async () => {
    await start();
    blobs.hold();
    const late = openUpload(new Metadata(), 1_500);
    late.stream.write(first(randomBytes(CHUNK)));
    late.stream.write(more(randomBytes(CHUNK)));
    const expired = await late.answer.then(
      () => assert.fail("the upload succeeded"),
      (e: ServiceError) => e,
    );
    assert.equal(expired.code, status.DEADLINE_EXCEEDED);
    blobs.release();
    await eventually(async () => assert.deepEqual(await blobFolder(), { blobs: [], incoming: [] }));

    blobs.hold();
    const lost = openUpload();
    lost.stream.write(first(randomBytes(CHUNK)));
    lost.stream.write(more(randomBytes(CHUNK)));
    await eventually(async () => assert.equal(blobs.piecesRead, 3));
    mesh.close();
    const error = await lost.answer.then(
      () => assert.fail("the upload succeeded"),
      (e: ServiceError) => e,
    );
    assert.equal(error.code, status.UNAVAILABLE);
    assert.equal(error.metadata.get(REASON_METADATA_KEY)[0], "HANDLER_LOST");
    blobs.release();
    await eventually(async () => assert.deepEqual(await blobFolder(), { blobs: [], incoming: [] }));
    assert.deepEqual(await attachedEvents(), []);
  });

  it("keeps the command pipeline's rules: a repeated command id gets the recorded outcome without a second file; no message, or recq-mode async, is refused", async () => {
    await start();
    const withId = () => {
      const metadata = new Metadata();
      metadata.set("recq-command-id", "attach-once");
      return metadata;
    };
    const once = openUpload(withId());
    once.stream.write(first(Buffer.from("first")));
    once.stream.end();
    const ack = await once.answer;
    const again = openUpload(withId());
    again.stream.write(first(Buffer.from("second")));
    again.stream.end();
    assert.deepEqual(await again.answer, ack);
    assert.equal((await attachedEvents()).length, 1);
    assert.equal((await blobFolder()).blobs.length, 1);

    const empty = openUpload();
    empty.stream.end();
    const none = await empty.answer.then(
      () => assert.fail("an upload without a message succeeded"),
      (e: ServiceError) => e,
    );
    assert.equal(none.code, status.INVALID_ARGUMENT);
    assert.match(none.details, /the upload sent no message/);

    const asyncMetadata = new Metadata();
    asyncMetadata.set("recq-mode", "async");
    const accepted = openUpload(asyncMetadata);
    accepted.stream.write(first(Buffer.from("x")));
    accepted.stream.end();
    const refused = await accepted.answer.then(
      () => assert.fail("an asynchronous upload was accepted"),
      (e: ServiceError) => e,
    );
    assert.equal(refused.code, status.INVALID_ARGUMENT);
    assert.equal((await attachedEvents()).length, 1);
  });

  it("refuses a second upload with the command id of one still running (ABORTED); the first goes on", async () => {
    await start();
    blobs.hold();
    const withId = () => {
      const metadata = new Metadata();
      metadata.set("recq-command-id", "attach-twice");
      return metadata;
    };
    const running = openUpload(withId());
    running.stream.write(first(Buffer.from("first")));
    await eventually(async () => assert.equal(blobs.piecesRead, 1));
    const second = openUpload(withId());
    second.stream.write(first(Buffer.from("second")));
    second.stream.end();
    const refused = await second.answer.then(
      () => assert.fail("the second upload ran"),
      (e: ServiceError) => e,
    );
    assert.equal(refused.code, status.ABORTED);
    assert.match(refused.details, /an upload with command id attach-twice is running already/);
    blobs.release();
    running.stream.end();
    await running.answer;
    assert.equal((await attachedEvents()).length, 1);
  });

  describe("limits at their boundaries", () => {
    async function refusal(promise: Promise<unknown>): Promise<{ code: number; reason: string | undefined }> {
      const error = (await promise.then(
        () => assert.fail("the upload succeeded"),
        (e: ServiceError) => e,
      )) as ServiceError;
      return { code: error.code, reason: error.metadata?.get(REASON_METADATA_KEY)[0] as string | undefined };
    }

    it("RECQ_MAX_UPLOAD_CHUNK_BYTES: a message of exactly the limit passes, one byte more is refused", async () => {
      await start({ maxUploadChunkBytes: 100_000 });
      // The first message holds the description fields too: the limit is on the whole message.
      const atLimit = 100_000 - 4; // a `content` field of 99,996 bytes encodes as 100,000 (1 tag + 3 length bytes)
      await upload(Buffer.alloc(atLimit, 1), atLimit);
      assert.deepEqual(await refusal(upload(Buffer.alloc(atLimit + 1, 1), atLimit + 1)), { code: status.RESOURCE_EXHAUSTED, reason: "REQUEST_TOO_LARGE" });
      assert.equal((await attachedEvents()).length, 1);
      await eventually(async () => assert.equal((await blobFolder()).incoming.length, 0));
    });

    it("RECQ_MAX_UPLOAD_BYTES: an upload of exactly the limit passes, one byte more is refused", async () => {
      const firstMessage = AttachFile.encode(first()).finish().length;
      const content = 10 * CHUNK;
      const perChunk = CHUNK + 4; // tag + 3-byte length
      await start({ maxUploadBytes: firstMessage + (content / CHUNK) * perChunk });
      await upload(Buffer.alloc(content, 2));
      assert.deepEqual(await refusal(upload(Buffer.alloc(content + 1, 2))), { code: status.RESOURCE_EXHAUSTED, reason: "REQUEST_TOO_LARGE" });
      assert.equal((await attachedEvents()).length, 1);
    });

    it("RECQ_MAX_UPLOADS: with one upload running, a second is refused; once it ended, the next runs", async () => {
      await start({ maxUploads: 1 });
      blobs.hold();
      const held = openUpload();
      held.stream.write(first(Buffer.alloc(10, 3)));
      await eventually(async () => assert.equal(blobs.piecesRead, 1));
      assert.deepEqual(await refusal(upload(Buffer.alloc(10, 4))), { code: status.RESOURCE_EXHAUSTED, reason: "QUEUE_FULL" });
      blobs.release();
      held.stream.end();
      await held.answer;
      await upload(Buffer.alloc(10, 5));
      assert.equal((await attachedEvents()).length, 2);
    });

    it("the TodoList's largest attachment (TODO_MAX_ATTACHMENT_BYTES): exactly the limit passes, one byte more is refused and kept nowhere", async () => {
      await start({}, 5 * CHUNK);
      await upload(Buffer.alloc(5 * CHUNK, 6));
      assert.deepEqual(await refusal(upload(Buffer.alloc(5 * CHUNK + 1, 6))), { code: status.RESOURCE_EXHAUSTED, reason: "REQUEST_TOO_LARGE" });
      assert.equal((await attachedEvents()).length, 1);
      await eventually(async () => assert.deepEqual((await blobFolder()).incoming, []));
      assert.equal((await blobFolder()).blobs.length, 1);
    });
  });
});
