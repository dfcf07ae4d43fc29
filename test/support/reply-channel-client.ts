import { credentials, Metadata, type ClientDuplexStream, type ClientOptions, type StatusObject } from "@grpc/grpc-js";
import { ReplyChannelServiceClient, type OpenRequest, type OpenResponse } from "@recq-mesh/protocol/gen/recq/v1/reply_channel";

/** A message type of the test's contracts, as ts-proto generates it: enough to pack it in an Any. */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  fromPartial(object: never): T;
}

/** An Any holding `message`, of the full type name `type`. */
export function packed<T>(type: string, codec: MessageCodec<T>, message: T): { typeUrl: string; value: Buffer } {
  return { typeUrl: `type.googleapis.com/${type}`, value: Buffer.from(codec.encode(message).finish()) };
}

/**
 * One ReplyChannelService.Open stream for a test: requests sent with their ids, every answer kept by id (an id
 * may be answered twice: a duplicate's failure and the first request's answer), and the status it ended with.
 */
export class OpenChannel {
  readonly client: ReplyChannelServiceClient;
  readonly stream: ClientDuplexStream<OpenRequest, OpenResponse>;
  readonly answers: OpenResponse[] = [];
  readonly ended: Promise<StatusObject>;
  private waiters: (() => void)[] = [];

  constructor(address: string, metadata: Record<string, string> = {}, options: Partial<ClientOptions> = {}) {
    this.client = new ReplyChannelServiceClient(address, credentials.createInsecure(), options);
    const md = new Metadata();
    for (const [key, value] of Object.entries(metadata)) md.set(key, value);
    this.stream = this.client.open(md);
    this.stream.on("data", (answer: OpenResponse) => {
      this.answers.push(answer);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.stream.on("error", () => undefined);
    this.ended = new Promise((resolve) => this.stream.on("status", resolve));
  }

  send(request: Partial<OpenRequest>): void {
    this.stream.write({ id: "", method: "", metadata: {}, timeoutMs: 0, ...request });
  }

  /** The answers to `id`, once there are `count` of them. */
  async answersTo(id: string, count = 1): Promise<OpenResponse[]> {
    for (;;) {
      const found = this.answers.filter((answer) => answer.id === id);
      if (found.length >= count) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** The one answer to `id`. */
  async answerTo(id: string): Promise<OpenResponse> {
    return (await this.answersTo(id))[0]!;
  }

  /** Waits until `count` answers have come, in all. */
  async answered(count: number): Promise<void> {
    while (this.answers.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}
