import { readFileSync } from "node:fs";
import { credentials, experimental, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";

/** TLS towards the gateway, for the handler link and the consumer streams of one service. */
export interface LinkTlsOptions {
  /**
   * The CA (PEM file) the gateway's certificate must come from. The file is read again every
   * `refreshIntervalMs`, so a rotated CA or client certificate is used by the next connection. Unset: the
   * system's trusted CAs, and the client certificate is read once.
   */
  caFile?: string;
  /** This service's certificate (PEM file), for a gateway that asks for client certificates (mTLS). */
  certFile?: string;
  /** Its private key (PEM file); with `certFile`. */
  keyFile?: string;
  /** How often the files are read again. Default 60 s. */
  refreshIntervalMs?: number;
  /** The name the gateway's certificate must carry, when it is not the host of `address` (a test, an IP address). */
  serverName?: string;
}

/** What a service presents to the gateway: transport security and the link token. */
export interface LinkSecurity {
  tls?: LinkTlsOptions;
  /** The link token, or a function that gives the current one (read at each connect: a rotated token is used). */
  credentials?: string | (() => string);
}

const DEFAULT_REFRESH_MS = 60_000;

/** The channel credentials of a link: plaintext without TLS options, TLS (and a client certificate) with them. */
export function linkChannelCredentials(tls: LinkTlsOptions | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) throw new Error("the link's TLS certFile and keyFile must be given together");
  if (tls.caFile === undefined) {
    return credentials.createSsl(null, tls.keyFile === undefined ? null : readFileSync(tls.keyFile), tls.certFile === undefined ? null : readFileSync(tls.certFile));
  }
  // One watcher reads the three files; grpc-js builds each new connection's TLS context from what it read last.
  const provider = new experimental.FileWatcherCertificateProvider({
    caCertificateFile: tls.caFile,
    certificateFile: tls.certFile,
    privateKeyFile: tls.keyFile,
    refreshIntervalMs: tls.refreshIntervalMs ?? DEFAULT_REFRESH_MS,
  });
  return experimental.createCertificateProviderChannelCredentials(provider, tls.certFile === undefined ? null : provider);
}

/** Channel options that go with the TLS options (the expected server name). */
export function linkTlsChannelOptions(tls: LinkTlsOptions | undefined): ChannelOptions {
  return tls?.serverName === undefined ? {} : { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName };
}

/** The token of a Hello or ConsumerOpen, as it is now. */
export function currentToken(token: LinkSecurity["credentials"]): string {
  return typeof token === "function" ? token() : (token ?? "");
}

/**
 * The link security a service's environment describes, with the variables every RECQ Mesh service reads:
 * `RECQ_TLS_CA_FILE`, `RECQ_TLS_CERT_FILE`, `RECQ_TLS_KEY_FILE`, `RECQ_TLS_SERVER_NAME`, `RECQ_TLS_REFRESH_MS`,
 * `RECQ_TLS=true` (TLS with the system's CAs), and the token: `RECQ_LINK_TOKEN_FILE` (read at each connect) or
 * `RECQ_LINK_TOKEN`.
 */
export function linkSecurityFromEnv(env: NodeJS.ProcessEnv): LinkSecurity {
  const caFile = env.RECQ_TLS_CA_FILE || undefined;
  const certFile = env.RECQ_TLS_CERT_FILE || undefined;
  const keyFile = env.RECQ_TLS_KEY_FILE || undefined;
  const refresh = env.RECQ_TLS_REFRESH_MS;
  const refreshIntervalMs = refresh ? Number(refresh) : undefined;
  if (refreshIntervalMs !== undefined && (!Number.isInteger(refreshIntervalMs) || refreshIntervalMs < 1)) {
    throw new Error(`RECQ_TLS_REFRESH_MS must be an integer of at least 1, not "${refresh}"`);
  }
  const tlsOn = caFile !== undefined || certFile !== undefined || env.RECQ_TLS === "true";
  const tls = tlsOn ? { caFile, certFile, keyFile, refreshIntervalMs, serverName: env.RECQ_TLS_SERVER_NAME || undefined } : undefined;
  const tokenFile = env.RECQ_LINK_TOKEN_FILE || undefined;
  if (tokenFile !== undefined && env.RECQ_LINK_TOKEN) throw new Error("set RECQ_LINK_TOKEN_FILE or RECQ_LINK_TOKEN, not both");
  const credentials = tokenFile !== undefined ? () => readFileSync(tokenFile, "utf8").trim() : env.RECQ_LINK_TOKEN || undefined;
  if (tokenFile !== undefined) readFileSync(tokenFile); // missing at start: say so now, not at the first connect
  return { tls, credentials };
}
