import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One POST the webhook received. */
export interface ReceivedPost {
  idempotencyKey: string;
  body: Record<string, unknown>;
  /** The HTTP status the webhook answered it with. */
  answered: number;
}

/** A local HTTP webhook (127.0.0.1, port 0) that records what is POSTed and answers 204, or 500 while told to fail. */
export interface WebhookServer {
  url: string;
  posts: ReceivedPost[];
  /** Taken posts (answered 2xx) with this idempotency key. */
  taken(key: string): ReceivedPost[];
  /** Answers the next `count` posts with HTTP 500. */
  failNext(count: number): void;
  close(): Promise<void>;
}

export async function startWebhookServer(): Promise<WebhookServer> {
  const posts: ReceivedPost[] = [];
  let failures = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const answered = failures > 0 ? 500 : 204;
      if (failures > 0) failures -= 1;
      posts.push({ idempotencyKey: String(request.headers["idempotency-key"] ?? ""), body: JSON.parse(Buffer.concat(chunks).toString() || "{}") as Record<string, unknown>, answered });
      response.statusCode = answered;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/todo`,
    posts,
    taken: (key) => posts.filter((p) => p.idempotencyKey === key && p.answered < 300),
    failNext: (count) => (failures = count),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
