import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, it } from "@jest/globals";
import { credentials, Metadata } from "@grpc/grpc-js";
import { FolderBlobStore, MeshService } from "@recq-mesh/kit";
import { loadDescriptorCatalog, type GatewayLimits, type GatewayOptions } from "@recq-mesh/gateway";
import { AttachFile, TodoAttachmentQueryServiceClient } from "@recq-mesh/todo/gen/todo/v1/attachments";
import { TodoItemFileAttached } from "@recq-mesh/todo/gen/todo/v1/events";
import { DocumentedCommands } from "../support/documented-commands";
import { markdownSection, shellSteps } from "../support/markdown-commands";
import { call, eventually, startGateway, tempDir, todoClients, type RunningGateway, startTodoWithAttachments } from "../support/mesh-harness";
import { HeldBlobStore } from "../support/held-blob-store";
import { REPO } from "../support/repository";
import { fieldNamed, fileNamed, messageNamed, mutatedSet } from "../gateway/descriptor-set-fixture";

// Uploads over the HTTP port with a raw body (docs/web.md#uploads): a real gateway with its HTTP port on 127.0.0.1,
// the real TodoList handler linked over gRPC, a real folder blob store in a temp folder, curl and Node's HTTP client.

const LIST = "list-files";
const ITEM = "item-1";
const UPLOAD_PATH = "/recq/v1/upload/todo.v1.TodoAttachmentCommandService/AttachFile";
const FIRST = { listId: LIST, itemId: ITEM, fileName: "notes.bin", contentType: "application/octet-stream" };


interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe("uploads over the HTTP port: a raw body, cut into the upload's messages", () => {
  let data: { dir: string; remove(): Promise<void> };
  let blobDir: { dir: string; remove(): Promise<void> };
  let running: RunningGateway;
  let mesh: MeshService;
  let blobs: HeldBlobStore;
  let todo: ReturnType<typeof todoClients>;
  let download: TodoAttachmentQueryServiceClient;

  /** A gateway with its HTTP port and the TodoList linked; the list LIST with its item ITEM unless `seeded` is false. */
  async function start(limits: Partial<GatewayLimits> = {}, options: Partial<GatewayOptions> = {}, seeded = true): Promise<void> {
    running = await startGateway(data.dir, { limits, http: { address: "127.0.0.1:0", allowedOrigins: [], heartbeatMs: 15_000 }, ...options });
    blobs = new HeldBlobStore(await FolderBlobStore.open(blobDir.dir));
    mesh = await startTodoWithAttachments(running.address, blobs, { maxAttachmentBytes: 256 * 1024 * 1024, downloadChunkBytes: 64 * 1024 });
    todo = todoClients(running.address);
    download = new TodoAttachmentQueryServiceClient(running.address, credentials.createInsecure());
    if (!seeded) return;
    await call(todo.commands, todo.commands.createTodoList, { listId: LIST, name: "files" });
    await call(todo.commands, todo.commands.addTodoItem, { listId: LIST, itemId: ITEM, text: "with a file" });
  }

  const httpAddress = () => `127.0.0.1:${running.gateway.http!.port}`;
  const uploadUrl = (first: object = FIRST) => `http://${httpAddress()}${UPLOAD_PATH}?message=${encodeURIComponent(JSON.stringify(first))}`;

  beforeEach(async () => {
    data = await tempDir("http-upload-gw");
    blobDir = await tempDir("http-upload-blobs");
  });

  afterEach(async () => {
    todo?.close();
    download?.close();
    mesh?.close();
    await running?.gateway.stop();
    await running?.store.close();
    await data.remove();
    await blobDir.remove();
  });

  /** Opens an upload with Node's HTTP client: the body is written by the test, chunked. */
  function openUpload(url = uploadUrl(), headers: Record<string, string> = {}) {
    const request = http.request(url, { method: "POST", headers });
    const answer = new Promise<HttpAnswer>((resolve, reject) => {
      request.on("response", (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (text: string) => (body += text));
        response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body }));
      });
      request.on("error", reject);
    });
    return { request, answer };
  }

  /** Uploads `body` in one go, with a Content-Length. */
  function upload(body: Buffer, url = uploadUrl(), headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const { request, answer } = openUpload(url, { ...headers, "content-length": String(body.length) });
    request.end(body);
    return answer;
  }

  async function attachedEvents(): Promise<TodoItemFileAttached[]> {
    const events = await running.store.readAll(0, 1_000);
    return events.filter((e) => e.type === "todo.v1.TodoItemFileAttached").map((e) => TodoItemFileAttached.decode(e.payload));
  }

  async function blobFolder(): Promise<{ blobs: string[]; incoming: string[] }> {
    const entries = [...(await readdir(blobDir.dir))];
    return { blobs: entries.filter((e) => e !== ".incoming"), incoming: [...(await blobs.inner.incoming())] };
  }

  /** Downloads with the upload's position as the consistency token: the handler finds the reference in the view. */
  function downloadAll(reference: string, position: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const pieces: Buffer[] = [];
      const metadata = new Metadata();
      metadata.set("recq-consistency-token", position);
      const stream = download.downloadAttachment({ listId: LIST, itemId: ITEM, reference }, metadata, { deadline: Date.now() + 30_000 });
      stream.on("data", (chunk: { content: Buffer }) => pieces.push(chunk.content));
      stream.on("error", reject);
      stream.on("end", () => resolve(Buffer.concat(pieces)));
    });
  }

  it("curl uploads a file (with a length, chunked from stdin, over HTTP/2); downloading it gives the same bytes and digest", async () => {
    await start();
    const content = randomBytes(3 * 1024 * 1024 + 123);
    const sha256 = createHash("sha256").update(content).digest("hex");
    const file = path.join(data.dir, "notes.bin");
    await writeFile(file, content);
    const curl = (args: string[]) => promisify(execFile)("curl", ["-sS", "--fail-with-body", ...args], { maxBuffer: 1024 * 1024 });
    const sent = await curl(["-H", "recq-command-id: upload-1", "--data-binary", `@${file}`, uploadUrl()]);
    const ack = JSON.parse(sent.stdout) as { commandId: string; position: string };
    assert.equal(ack.commandId, "upload-1");
    assert.ok(Number(ack.position) > 0);
    const [event] = await attachedEvents();
    assert.equal(event!.sha256, sha256);
    assert.equal(event!.size, String(content.length));
    assert.ok((await downloadAll(event!.reference, ack.position)).equals(content));
    // The same file chunked (Transfer-Encoding: chunked, no length), a PUT from standard input.
    const piped = await promisify(execFile)("bash", ["-c", `curl -sS --fail-with-body -T - '${uploadUrl()}' < '${file}'`]);
    assert.ok(Number((JSON.parse(piped.stdout) as { position: string }).position) > Number(ack.position));
    // And over HTTP/2 (cleartext, prior knowledge).
    const overHttp2 = JSON.parse((await curl(["--http2-prior-knowledge", "--data-binary", `@${file}`, uploadUrl()])).stdout) as { position: string };
    const events = await attachedEvents();
    assert.equal(events.length, 3);
    assert.equal(events[1]!.sha256, sha256);
    assert.equal(events[2]!.sha256, sha256);
    assert.ok((await downloadAll(events[2]!.reference, overHttp2.position)).equals(content));
    // A repeat of the command id gets the recorded outcome, with no second file.
    const repeated = JSON.parse((await curl(["-H", "recq-command-id: upload-1", "--data-binary", `@${file}`, uploadUrl()])).stdout) as { position: string };
    assert.equal(repeated.position, ack.position);
    assert.equal((await attachedEvents()).length, 3);
  });

  it("a slow handler slows the uploader: while the handler reads nothing, the gateway takes only a bounded part of the body", async () => {
    await start({ maxUploadChunkBytes: 64 * 1024 });
    blobs.hold();
    const total = 48 * 1024 * 1024;
    const { request, answer } = openUpload();
    // Writes as fast as the connection takes the body; counts what it took.
    let taken = 0;
    const piece = randomBytes(64 * 1024);
    const pump = (async () => {
      while (taken < total) {
        await new Promise<void>((resolve, reject) => request.write(piece, (error) => (error ? reject(error) : resolve())));
        taken += piece.length;
      }
      request.end();
    })();
    await eventually(async () => assert.equal(blobs.piecesRead, 1));
    await new Promise((r) => setTimeout(r, 1_000));
    const whileHeld = taken;
    // The kit's window (4 messages of 64 KiB), one message read ahead, one piece being cut, and the TCP buffers of
    // the loopback connection (a few MiB): far from the 48 MiB body.
    assert.ok(whileHeld < 16 * 1024 * 1024, `the uploader got ${whileHeld} bytes out while the handler read nothing`);
    blobs.release();
    await pump;
    const answered = await answer;
    assert.equal(answered.status, 200, answered.body);
    const [event] = await attachedEvents();
    assert.equal(event!.size, String(total));
  });

  it("an upload whose body is cut off midway stores nothing and appends no event; the list goes on", async () => {
    await start({ maxUploadChunkBytes: 64 * 1024 });
    blobs.hold();
    const { request, answer } = openUpload(uploadUrl(), { "content-length": String(4 * 1024 * 1024) });
    answer.catch(() => undefined);
    for (let i = 0; i < 8; i++) request.write(randomBytes(64 * 1024));
    await eventually(async () => assert.equal(blobs.piecesRead, 1));
    assert.equal((await blobFolder()).incoming.length, 1, "the write in progress has its temporary file");
    request.destroy();
    blobs.release();
    await eventually(async () => assert.deepEqual(await blobFolder(), { blobs: [], incoming: [] }));
    assert.deepEqual(await attachedEvents(), []);
    await call(todo.commands, todo.commands.completeTodoItem, { listId: LIST, itemId: ITEM });
  });

  it("an upload whose deadline (connect-timeout-ms) passes while its handler is held: 504 deadline_exceeded, nothing stored, no event", async () => {
    await start({ maxUploadChunkBytes: 64 * 1024 });
    blobs.hold();
    const late = openUpload(uploadUrl(), { "connect-timeout-ms": "1500" });
    late.request.write(randomBytes(64 * 1024));
    late.request.write(randomBytes(64 * 1024));
    const answered = await late.answer;
    assert.equal(answered.status, 504, answered.body);
    assert.equal(answered.headers["recq-reason"], "DEADLINE_EXCEEDED");
    late.request.destroy();
    blobs.release();
    await eventually(async () => assert.deepEqual(await blobFolder(), { blobs: [], incoming: [] }));
    assert.deepEqual(await attachedEvents(), []);
  });

  it("RECQ_MAX_REQUEST_ARRIVAL_MS on HTTP/1.1: an upload is exempt (its body comes at the handler's pace); a unary call's body is not", async () => {
    await start({ maxRequestArrivalMs: 1_000, maxUploadChunkBytes: 64 * 1024 });
    blobs.hold();
    const held = openUpload();
    held.request.write(randomBytes(64 * 1024));
    await eventually(async () => assert.equal(blobs.piecesRead, 1));
    // A Connect call whose body stops halfway: answered deadline_exceeded once the limit has passed.
    const stalled = openUpload(`http://${httpAddress()}/todo.v1.TodoListCommandService/CreateTodoList`, { "content-type": "application/json", "content-length": "100" });
    stalled.request.write('{"listId":');
    const refused = await stalled.answer;
    assert.equal(refused.status, 504, refused.body);
    assert.equal(refused.headers["recq-reason"], "DEADLINE_EXCEEDED");
    assert.match(refused.body, /had not fully arrived 1000 ms after its headers/);
    // The upload, held well past the limit meanwhile, goes on.
    await new Promise((r) => setTimeout(r, 1_500));
    blobs.release();
    held.request.end(randomBytes(64 * 1024));
    const answered = await held.answer;
    assert.equal(answered.status, 200, answered.body);
    assert.equal((await attachedEvents())[0]!.size, String(128 * 1024), JSON.stringify(answered));
  });

  it("RECQ_MAX_UPLOAD_BYTES and RECQ_MAX_UPLOAD_CHUNK_BYTES at their boundaries: the body's messages and the first message", async () => {
    const firstBytes = AttachFile.encode({ ...FIRST, content: Buffer.alloc(0) }).finish().length;
    // 1024-byte messages: a 1-byte tag, a 2-byte length and 1021 bytes of the body each.
    const piece = 1021;
    await start({ maxUploadChunkBytes: 1024, maxUploadBytes: firstBytes + 3 * 1024 });
    const atLimit = await upload(randomBytes(3 * piece));
    assert.equal(atLimit.status, 200, atLimit.body);
    const over = await upload(randomBytes(3 * piece + 1));
    assert.equal(over.status, 429, over.body);
    assert.equal(over.headers["recq-reason"], "REQUEST_TOO_LARGE");
    assert.match(over.body, /RECQ_MAX_UPLOAD_BYTES/);
    // The first message (from the URL) is one message of the upload: at most RECQ_MAX_UPLOAD_CHUNK_BYTES.
    // A first message of `bytes` bytes: the file's first content in it (base64 in the JSON).
    const firstOf = (bytes: number) => {
      let content = Buffer.alloc(bytes - firstBytes);
      while (AttachFile.encode({ ...FIRST, content }).finish().length > bytes) content = content.subarray(1);
      assert.equal(AttachFile.encode({ ...FIRST, content }).finish().length, bytes);
      return { ...FIRST, content: content.toString("base64") };
    };
    const firstAtLimit = await upload(Buffer.alloc(0), uploadUrl(firstOf(1024)));
    assert.equal(firstAtLimit.status, 200, firstAtLimit.body);
    const firstOver = await upload(Buffer.alloc(0), uploadUrl(firstOf(1025)));
    assert.equal(firstOver.status, 429, firstOver.body);
    assert.equal(firstOver.headers["recq-reason"], "REQUEST_TOO_LARGE");
    assert.match(firstOver.body, /RECQ_MAX_UPLOAD_CHUNK_BYTES/);
    assert.equal((await attachedEvents()).length, 2);
  });

  it("RECQ_MAX_UPLOADS: the uploads at the limit run, one more is refused with QUEUE_FULL", async () => {
    await start({ maxUploads: 1, maxUploadChunkBytes: 64 * 1024 });
    blobs.hold();
    const running1 = openUpload();
    running1.request.write(randomBytes(64 * 1024));
    await eventually(async () => assert.equal(blobs.piecesRead, 1));
    const refused = await upload(randomBytes(10));
    assert.equal(refused.status, 429, refused.body);
    assert.equal(refused.headers["recq-reason"], "QUEUE_FULL");
    blobs.release();
    running1.request.end();
    const answered = await running1.answer;
    assert.equal(answered.status, 200, answered.body);
  });

  it("refuses, with a clear status, a method that is not an upload, a first message missing or not JSON", async () => {
    await start();
    const unary = await upload(Buffer.from("x"), `http://${httpAddress()}/recq/v1/upload/todo.v1.TodoListCommandService/CreateTodoList?message=%7B%7D`);
    assert.equal(unary.status, 501, unary.body);
    assert.match(unary.body, /not an upload/);
    const unknown = await upload(Buffer.from("x"), `http://${httpAddress()}/recq/v1/upload/todo.v1.Nothing/Here?message=%7B%7D`);
    assert.equal(unknown.status, 404, unknown.body);
    const missing = await upload(Buffer.from("x"), `http://${httpAddress()}${UPLOAD_PATH}`);
    assert.equal(missing.status, 400, missing.body);
    assert.match(missing.body, /first message is missing/);
    const notJson = await upload(Buffer.from("x"), `http://${httpAddress()}${UPLOAD_PATH}?message=nope`);
    assert.equal(notJson.status, 400, notJson.body);
    assert.deepEqual(await attachedEvents(), []);
  });

  it("refuses an upload whose request type has no single bytes field to carry the body (501), naming the rule", async () => {
    // The TodoList's contracts with AttachFile's file_name made a second bytes field.
    const set = mutatedSet((descriptors) => {
      const field = fieldNamed(messageNamed(fileNamed(descriptors, "todo/v1/attachments.proto"), "AttachFile"), "file_name");
      field.type = 12; // TYPE_BYTES
    });
    await start({}, { catalog: loadDescriptorCatalog(Buffer.from(set)) });
    const refused = await upload(Buffer.from("x"), uploadUrl({ listId: LIST, itemId: ITEM }));
    assert.equal(refused.status, 501, refused.body);
    assert.equal(refused.headers["recq-reason"], "INVALID_REQUEST");
    assert.match(refused.body, /exactly one bytes field/);
    assert.deepEqual(await attachedEvents(), []);
  });

  it("docs/web.md's Uploads examples print what the document shows", async () => {
    await start({}, {}, false);
    const steps = shellSteps(markdownSection(path.join(REPO, "docs", "web.md"), "Uploads"));
    assert.ok(steps.some((step) => step.command.includes("/recq/v1/upload/")));
    await new DocumentedCommands({ "127.0.0.1:8080": httpAddress }, () => process.env).runBlock(steps);
  });
});
