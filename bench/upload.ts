// `npm run bench:upload [-- megabytes chunk-kib]`: a file attached to a TodoList item and downloaded again, through a
// gateway process on its embedded store and the real TodoList service (main.js) in a process of its own, its blob
// store a temp folder. Prints the upload's and the download's throughput (MB/s, the caller's view) and the gateway's
// RSS before and at its peak during each (sampled from /proc every 10 ms), and checks the downloaded digest. Defaults:
// 100 MB in 256 KiB messages. Asserts nothing beyond the digest; the machine is shared, so the figures are noisy.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { TodoAttachmentCommandServiceClient, TodoAttachmentQueryServiceClient } from "@recq-mesh/todo/gen/todo/v1/attachments";
import { TodoListCommandServiceClient } from "@recq-mesh/todo/gen/todo/v1/commands";
import { TodoListQueryServiceClient } from "@recq-mesh/todo/gen/todo/v1/queries";
import { GATEWAY_MAIN, TODO_DESCRIPTORS, TODO_MAIN } from "../test/support/built-packages";
import { rssMiB, startScript } from "./lib/processes";
import { nowMs, round } from "./lib/stats";

const [megabytes = 100, chunkKiB = 256] = process.argv.slice(2).map(Number);
const TOTAL = megabytes * 1_000_000;
const CHUNK = chunkKiB * 1024;

function unary<T>(send: (callback: (error: ServiceError | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => send((error, value) => (error ? reject(error) : resolve(value))));
}

/** Samples a process's RSS every 10 ms until stopped; answers the peak. */
function peakRss(pid: number): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 10);
  return { stop: () => (clearInterval(timer), Math.max(peak, rssMiB(pid))) };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "recq-bench-upload-"));
  const gateway = await startScript(
    GATEWAY_MAIN,
    ["--address", "127.0.0.1:0", "--data-dir", path.join(dataDir, "gateway"), "--descriptors", TODO_DESCRIPTORS],
    { RECQ_LOG_LEVEL: "info", RECQ_MAX_CALL_MS: "600000" },
    /"message":"gateway ready"/,
  );
  const address = `127.0.0.1:${Number(/"port":(\d+)/.exec(gateway.line)![1])}`;
  const todo = await startScript(TODO_MAIN, [], { RECQ_LOG_LEVEL: "info", RECQ_GATEWAY: address, RECQ_BLOB_DIR: path.join(dataDir, "blobs") }, /todo service linked/);
  const commands = new TodoListCommandServiceClient(address, credentials.createInsecure());
  const attach = new TodoAttachmentCommandServiceClient(address, credentials.createInsecure());
  const download = new TodoAttachmentQueryServiceClient(address, credentials.createInsecure());
  try {
    await unary((cb) => commands.createTodoList({ listId: "bench", name: "Bench" }, cb));
    await unary((cb) => commands.addTodoItem({ listId: "bench", itemId: "file", text: "a large file" }, cb));
    const piece = randomBytes(CHUNK);
    const pid = gateway.child.pid!;
    const idle = rssMiB(pid);

    const hash = createHash("sha256");
    const uploadPeak = peakRss(pid);
    const uploadStart = nowMs();
    const ack = await new Promise<{ position: string }>((resolve, reject) => {
      const stream = attach.attachFile(new Metadata(), { deadline: Date.now() + 600_000 }, (error, value) => (error ? reject(error) : resolve(value!)));
      stream.write({ listId: "bench", itemId: "file", fileName: "large.bin", contentType: "application/octet-stream", content: Buffer.alloc(0) });
      let sent = 0;
      const pump = () => {
        while (sent < TOTAL) {
          const content = piece.subarray(0, Math.min(CHUNK, TOTAL - sent));
          sent += content.length;
          hash.update(content);
          if (!stream.write({ listId: "", itemId: "", fileName: "", contentType: "", content })) return void stream.once("drain", pump);
        }
        stream.end();
      };
      pump();
    });
    const uploadSeconds = (nowMs() - uploadStart) / 1000;
    const uploadRss = uploadPeak.stop();
    const digest = hash.digest("hex");

    // The view lists the attachment once it has reached the upload's position.
    const queries = new TodoListQueryServiceClient(address, credentials.createInsecure());
    const tokened = new Metadata();
    tokened.set("recq-consistency-token", ack.position);
    const view = await unary<{ items: { attachments: { reference: string; sha256: string }[] }[] }>((cb) => queries.getTodoList({ listId: "bench" }, tokened, cb));
    queries.close();
    const attachment = view.items[0]!.attachments[0]!;

    const downloadPeak = peakRss(pid);
    const downloadStart = nowMs();
    const downloaded = createHash("sha256");
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      const stream = download.downloadAttachment({ listId: "bench", itemId: "file", reference: attachment.reference }, { deadline: Date.now() + 600_000 });
      stream.on("data", (chunk: { content: Buffer }) => {
        bytes += chunk.content.length;
        downloaded.update(chunk.content);
      });
      stream.on("error", reject);
      stream.on("end", resolve);
    });
    const downloadSeconds = (nowMs() - downloadStart) / 1000;
    const downloadRss = downloadPeak.stop();
    const same = downloaded.digest("hex") === digest && attachment.sha256 === digest && bytes === TOTAL;

    console.log(`large data: one ${megabytes} MB file in ${chunkKiB} KiB messages; gateway (embedded store) and TodoList (folder blob store) as processes`);
    console.log(`  upload      ${round(TOTAL / 1e6 / uploadSeconds, 1)} MB/s  (${round(uploadSeconds, 2)} s)   gateway RSS peak ${round(uploadRss, 1)} MiB`);
    console.log(`  download    ${round(TOTAL / 1e6 / downloadSeconds, 1)} MB/s  (${round(downloadSeconds, 2)} s)   gateway RSS peak ${round(downloadRss, 1)} MiB`);
    console.log(`  gateway RSS before the upload ${round(idle, 1)} MiB; peak above it ${round(Math.max(uploadRss, downloadRss) - idle, 1)} MiB`);
    console.log(`  digest ${same ? "matches" : "DIFFERS"} (${digest.slice(0, 16)}…)`);
    if (!same) process.exitCode = 1;
  } finally {
    commands.close();
    attach.close();
    download.close();
    await todo.stop();
    await gateway.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
