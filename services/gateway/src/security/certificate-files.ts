import { createHash, X509Certificate } from "node:crypto";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "@recq-mesh/protocol";
import type { TlsSettings } from "./tls-settings";

type IdentityUpdate = experimental.IdentityCertificateUpdate;
type CaUpdate = experimental.CaCertificateUpdate;

/** How long the first read of the files may take before the gateway gives up starting. */
const FIRST_READ_TIMEOUT_MS = 10_000;

/**
 * The gateway's certificate, key and client CA, read from files and read again every `refreshIntervalMs`:
 * grpc-js's FileWatcherCertificateProvider, whose server credentials hand each changed pair to the server's
 * `setSecureContext`, so new connections get it while open ones keep theirs — no restart. This class adds what
 * the provider leaves out: the first read is awaited and checked (a missing or mismatched file stops the start
 * with its name, instead of a server that drops every connection), and each change, or a pair that stops being
 * usable, is logged.
 */
export class CertificateFiles {
  /** A digest of the files in use: a read that changes none of them is not news. */
  private digest: string | undefined;
  /** Undefined until read; null when the read failed. */
  private latest: { identity: IdentityUpdate | null | undefined; ca: CaUpdate | null | undefined } = { identity: undefined, ca: undefined };
  /** Set until the first read is settled: it resolves or rejects `open`. */
  private firstRead: ((error?: Error) => void) | undefined;
  private readonly changeListeners = new Set<(options: SecureContextOptions) => void>();

  private constructor(
    readonly settings: TlsSettings,
    private readonly provider: experimental.FileWatcherCertificateProvider,
    private readonly logger: Logger,
  ) {}

  /** Reads the files once (and checks that the key matches the certificate), then keeps watching them. */
  static async open(settings: TlsSettings, logger: Logger): Promise<CertificateFiles> {
    const provider = new experimental.FileWatcherCertificateProvider({
      certificateFile: settings.certificateFile,
      privateKeyFile: settings.keyFile,
      caCertificateFile: settings.clientCaFile,
      refreshIntervalMs: settings.refreshIntervalMs,
    });
    const files = new CertificateFiles(settings, provider, logger);
    await files.watch();
    return files;
  }

  /** Credentials for a grpc-js server: TLS with the current pair, client certificates as the settings say. */
  serverCredentials(): ServerCredentials {
    const caProvider = this.settings.clientCaFile === undefined ? null : this.provider;
    // grpc-js's declaration names its first two parameters the other way round: the first is the identity
    // provider (certificate and key), the second the CA provider (client certificates); one provider is both here.
    return experimental.createCertificateProviderServerCredentials(this.provider, caProvider, this.settings.clientAuth === "required");
  }

  /**
   * For another port of the gateway (an HTTPS or HTTP/2 server): the options to create it with, the current pair
   * included. Pass every later change to its `setSecureContext` through `onChange`.
   */
  serverOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    const clientCertificates = this.settings.clientCaFile !== undefined;
    return { ...this.contextOptions(), requestCert: clientCertificates, rejectUnauthorized: clientCertificates && this.settings.clientAuth === "required" };
  }

  /** Hears each new usable pair (certificate, key, client CA); returns the function that stops it. */
  onChange(listener: (options: SecureContextOptions) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Stops watching (the server's own watch stops with the server). */
  close(): void {
    this.provider.removeIdentityCertificateListener(this.identityListener);
    if (this.settings.clientCaFile !== undefined) this.provider.removeCaCertificateListener(this.caListener);
    this.changeListeners.clear();
  }

  private watch(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.firstRead = undefined;
        this.close();
        reject(new Error(`could not read ${this.describeFiles()} within ${FIRST_READ_TIMEOUT_MS} ms`));
      }, FIRST_READ_TIMEOUT_MS);
      this.firstRead = (error) => {
        clearTimeout(timer);
        if (error === undefined) {
          resolve();
        } else {
          this.close();
          reject(error);
        }
      };
      if (this.settings.clientCaFile !== undefined) this.provider.addCaCertificateListener(this.caListener);
      this.provider.addIdentityCertificateListener(this.identityListener);
    });
  }

  private readonly identityListener = (update: IdentityUpdate | null) => {
    this.latest.identity = update;
    this.settle();
  };

  private readonly caListener = (update: CaUpdate | null) => {
    this.latest.ca = update;
    this.settle();
  };

  /** After each read: the first one decides the start; later ones are logged when they change something. */
  private settle(): void {
    // The provider reports the pair and the CA one after the other: wait for both of the first read.
    if (this.firstRead !== undefined && (this.latest.identity === undefined || (this.settings.clientCaFile !== undefined && this.latest.ca === undefined))) return;
    let problem: string | undefined;
    try {
      problem = this.check();
    } catch (thrown) {
      problem = thrown instanceof Error ? thrown.message : String(thrown);
    }
    const firstRead = this.firstRead;
    this.firstRead = undefined;
    if (problem !== undefined) {
      if (firstRead !== undefined) firstRead(new Error(`TLS files unusable (${this.describeFiles()}): ${problem}`));
      else this.logger.error("TLS files unusable: new connections are refused until they are fixed", { files: this.describeFiles(), problem });
      this.digest = undefined;
      return;
    }
    const { certificate: certificateBytes, privateKey } = this.latest.identity!;
    const digest = createHash("sha256").update(certificateBytes).update(privateKey).update(this.latest.ca?.caCertificate ?? "").digest("hex");
    if (digest !== this.digest) {
      this.digest = digest;
      const certificate = new X509Certificate(certificateBytes);
      this.logger.info(firstRead !== undefined ? "TLS certificate loaded" : "TLS certificate reloaded: new connections use it", {
        subject: certificate.subject.replace(/\n/g, ", "),
        validTo: certificate.validTo,
        fingerprint256: certificate.fingerprint256,
      });
      const options = this.contextOptions();
      for (const listener of this.changeListeners) listener(options);
    }
    firstRead?.();
  }

  /** What is wrong with the files read last, if anything (a mismatched key throws from createSecureContext). */
  private check(): string | undefined {
    if (!this.latest.identity) return `cannot read ${this.settings.certificateFile} or ${this.settings.keyFile}`;
    if (this.settings.clientCaFile !== undefined && !this.latest.ca) return `cannot read ${this.settings.clientCaFile}`;
    createSecureContext(this.contextOptions());
    return undefined;
  }

  private contextOptions(): SecureContextOptions {
    return { cert: this.latest.identity?.certificate, key: this.latest.identity?.privateKey, ca: this.latest.ca?.caCertificate };
  }

  private describeFiles(): string {
    return [this.settings.certificateFile, this.settings.keyFile, this.settings.clientCaFile].filter((file) => file !== undefined).join(", ");
  }
}
