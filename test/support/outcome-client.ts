import { credentials, Metadata, type Client, type ServiceError } from "@grpc/grpc-js";
import { CommandOutcomeServiceClient, type Outcome } from "@recq-mesh/protocol/gen/recq/v1/outcomes";

export function outcomeClient(address: string): CommandOutcomeServiceClient {
  return new CommandOutcomeServiceClient(address, credentials.createInsecure());
}

function metadataOf(values: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(values)) metadata.set(key, value);
  return metadata;
}

export function getOutcome(client: CommandOutcomeServiceClient, commandId: string, metadata: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) =>
    client.getOutcome({ commandId }, metadataOf(metadata), { deadline: Date.now() + 5_000 }, (error, response) => (error ? reject(error) : resolve(response.outcome!))),
  );
}

/** A WatchOutcome call: the outcomes received so far, and how it ended. */
export interface Watch {
  outcomes: Outcome[];
  ended: Promise<ServiceError | undefined>;
  cancel(): void;
}

export function watchOutcome(client: CommandOutcomeServiceClient, commandId: string, deadlineMs = 10_000, metadata: Record<string, string> = {}): Watch {
  const outcomes: Outcome[] = [];
  const stream = client.watchOutcome({ commandId }, metadataOf(metadata), { deadline: Date.now() + deadlineMs });
  stream.on("data", (response: { outcome?: Outcome }) => outcomes.push(response.outcome!));
  const ended = new Promise<ServiceError | undefined>((resolve) => {
    stream.on("error", (error: ServiceError) => resolve(error));
    stream.on("end", () => resolve(undefined));
  });
  return { outcomes, ended, cancel: () => stream.cancel() };
}

type UnaryMethod<Req, Res> = (request: Req, metadata: Metadata, options: object, callback: (error: ServiceError | null, response: Res) => void) => {
  on(event: "metadata", listener: (metadata: Metadata) => void): unknown;
};

/** A unary command sent with `recq-mode: async`: its ack and the response header `recq-outcome`. */
export function sendAccepted<Req, Res>(client: Client, method: UnaryMethod<Req, Res>, request: Req, metadata: Record<string, string> = {}): Promise<{ ack: Res; outcomeHeader: string | undefined }> {
  return new Promise((resolve, reject) => {
    let outcomeHeader: string | undefined;
    const call = method.call(client, request, metadataOf({ "recq-mode": "async", ...metadata }), { deadline: Date.now() + 5_000 }, (error, ack) =>
      error ? reject(error) : resolve({ ack, outcomeHeader }),
    );
    call.on("metadata", (header) => {
      const value = header.get("recq-outcome")[0];
      outcomeHeader = typeof value === "string" ? value : undefined;
    });
  });
}
