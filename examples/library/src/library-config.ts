/** The library's database when `RECQ_MONGODB_DATABASE` is unset: its own, apart from the gateway's. */
export const LIBRARY_DATABASE = "recq_library";

export interface LibraryConfig {
  /** The gateway. `RECQ_GATEWAY`; default 127.0.0.1:50051, where `recq-gateway` listens by default. */
  gateway: string;
  /** `RECQ_LINK_TOKEN`, when the gateway requires one. */
  linkToken: string | undefined;
}

export function loadLibraryConfig(env: NodeJS.ProcessEnv): LibraryConfig {
  return {
    gateway: env.RECQ_GATEWAY || "127.0.0.1:50051",
    // An empty variable means no token, as an unset one does.
    linkToken: env.RECQ_LINK_TOKEN || undefined,
  };
}
