/**
 * The TLS settings of the gateway's ports, read from the environment. The gRPC port uses them today; any other
 * port of the gateway (an HTTP one) takes the same files through `CertificateFiles` (certificate-files.ts).
 */
export interface TlsSettings {
  /** The gateway's certificate chain, PEM (RECQ_TLS_CERT_FILE). */
  certificateFile: string;
  /** Its private key, PEM (RECQ_TLS_KEY_FILE). */
  keyFile: string;
  /** The CA that clients' certificates must come from, PEM (RECQ_TLS_CLIENT_CA_FILE). Unset: no client certificates. */
  clientCaFile: string | undefined;
  /**
   * With a client CA (RECQ_TLS_CLIENT_AUTH): `required` — a connection without a certificate from that CA is
   * refused in the handshake; `optional` — a connection may come without one (callers then authenticate with a
   * token), and a certificate from another CA gives no identity.
   */
  clientAuth: "required" | "optional";
  /** How often the files are read again (RECQ_TLS_REFRESH_MS): new connections get a changed pair after at most this. */
  refreshIntervalMs: number;
}

/** How the gRPC port is served: TLS with these settings, or plaintext (allowed only when configured or on loopback). */
export type TransportSecurity = { mode: "tls"; tls: TlsSettings } | { mode: "plaintext" };

export const DEFAULT_TLS_REFRESH_MS = 60_000;

/**
 * Reads the TLS settings. Without a certificate the port is plaintext, which is allowed on a loopback address
 * (127.0.0.1, ::1, localhost: `npm start`, tests) and elsewhere only with RECQ_ALLOW_PLAINTEXT=true, so that a
 * gateway listening on a network never speaks plaintext by omission.
 */
export function transportSecurityFromEnv(env: NodeJS.ProcessEnv, address: string): TransportSecurity {
  const certificateFile = env.RECQ_TLS_CERT_FILE || undefined;
  const keyFile = env.RECQ_TLS_KEY_FILE || undefined;
  const clientCaFile = env.RECQ_TLS_CLIENT_CA_FILE || undefined;
  if ((certificateFile === undefined) !== (keyFile === undefined)) {
    throw new Error("RECQ_TLS_CERT_FILE and RECQ_TLS_KEY_FILE must be set together");
  }
  if (certificateFile === undefined || keyFile === undefined) {
    if (clientCaFile !== undefined) throw new Error("RECQ_TLS_CLIENT_CA_FILE needs RECQ_TLS_CERT_FILE and RECQ_TLS_KEY_FILE: client certificates are a part of TLS");
    if (!isLoopback(address) && env.RECQ_ALLOW_PLAINTEXT !== "true") {
      throw new Error(
        `the gateway would listen on ${address} in plaintext: set RECQ_TLS_CERT_FILE and RECQ_TLS_KEY_FILE, or RECQ_ALLOW_PLAINTEXT=true to allow plaintext on a network address`,
      );
    }
    return { mode: "plaintext" };
  }
  const clientAuth = env.RECQ_TLS_CLIENT_AUTH || "required";
  if (clientAuth !== "required" && clientAuth !== "optional") throw new Error(`RECQ_TLS_CLIENT_AUTH must be required or optional, not "${clientAuth}"`);
  const refresh = env.RECQ_TLS_REFRESH_MS;
  const refreshIntervalMs = refresh === undefined || refresh === "" ? DEFAULT_TLS_REFRESH_MS : Number(refresh);
  if (!Number.isInteger(refreshIntervalMs) || refreshIntervalMs < 1) throw new Error(`RECQ_TLS_REFRESH_MS must be an integer of at least 1, not "${refresh}"`);
  return { mode: "tls", tls: { certificateFile, keyFile, clientCaFile, clientAuth, refreshIntervalMs } };
}

/** host:port (or [v6]:port) on a loopback interface: reachable only from this machine. */
export function isLoopback(address: string): boolean {
  const host = address.startsWith("[") ? address.slice(1, address.indexOf("]")) : address.slice(0, address.lastIndexOf(":"));
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** What the start banner says of the port. */
export function describeTransport(security: TransportSecurity): string {
  if (security.mode === "plaintext") return "plaintext";
  if (security.tls.clientCaFile === undefined) return "tls";
  return `mtls (client certificates ${security.tls.clientAuth})`;
}
