import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";

/** The metadata key of a command whose final outcome is also to be delivered to a named reply channel. */
export const REPLY_TO_METADATA = "recq-reply-to";

/** A channel's name, as reply_channel.proto says: 1 to 128 characters of [A-Za-z0-9._~-]. */
const CHANNEL_NAME = /^[A-Za-z0-9._~-]{1,128}$/;

/** `name` when it is a well-formed channel name; INVALID_ARGUMENT naming `where` it came from otherwise. */
export function checkChannelName(name: string, where: string): string {
  if (CHANNEL_NAME.test(name)) return name;
  const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
  throw new MeshError(
    status.INVALID_ARGUMENT,
    `${where} "${shown}" is not a channel name: 1 to 128 characters of A-Z a-z 0-9 . _ ~ -`,
    Reason.INVALID_REQUEST,
  );
}

/** The reply channel a command names in its `recq-reply-to` metadata, if any (INVALID_ARGUMENT when ill-formed). */
export function replyChannelOf(value: string | undefined): string | undefined {
  return value === undefined ? undefined : checkChannelName(value, REPLY_TO_METADATA);
}
