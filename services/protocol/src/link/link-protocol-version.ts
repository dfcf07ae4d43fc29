/**
 * The version of the link protocol (`recq.v1.HandlerLinkService`) this release speaks: a handler sends it in its
 * Hello, and the gateway refuses a link of another version. Kept here because both sides must agree on it.
 */
export const LINK_PROTOCOL_VERSION = 1;
