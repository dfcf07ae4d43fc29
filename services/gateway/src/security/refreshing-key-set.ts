import { status } from "@grpc/grpc-js";
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { MeshError, Reason, type Logger } from "@recq-mesh/protocol";

/** Where a key set comes from: a JWKS URL or file. `load` rejects when it cannot give a set. */
export interface KeySetSource {
  /** For the log: the URL or the file. */
  readonly name: string;
  load(): Promise<JSONWebKeySet>;
}

export interface KeySetRefresh {
  /** After a load, successful or not, none other for this long. */
  cooldownMs: number;
  /** A set older than this is loaded again, in the background, at the next token. */
  maxAgeMs: number;
  /** The longest a token waits on a load (the first one, one for a key the set lacks, one past `maxStaleMs`). */
  timeoutMs: number;
  /** When no load has succeeded for this long, tokens are refused (UNAVAILABLE); 0: never. */
  maxStaleMs: number;
}

/**
 * A JWKS kept current: loaded again when it is older than `maxAgeMs`, and when a token names a key it lacks (a key
 * the identity provider has just added), each at most once per `cooldownMs`. A set past its age is refreshed in the
 * background while its keys go on serving (a slow provider delays no call); a token waits on a load, at most
 * `timeoutMs`, only when it names a key the set lacks, when there are no keys yet, or when the keys are past
 * `maxStaleMs`. A load that fails — unreachable, malformed — keeps the last good keys and is logged. `generation`
 * counts the changes of the keys, so that what was verified with an older set is verified again: a token signed by a
 * removed key is refused after the refresh.
 */
export class RefreshingKeySet {
  private keys: JWTVerifyGetKey | undefined;
  private loadedJson: string | undefined;
  /** When the keys were last loaded successfully, and when a load was last tried (ms since the epoch). */
  private loadedAtMs = Number.NEGATIVE_INFINITY;
  private triedAtMs = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | undefined;
  private changes = 0;

  constructor(
    private readonly source: KeySetSource,
    private readonly refresh: KeySetRefresh,
    private readonly logger: Logger,
    initial?: { set: JSONWebKeySet; loadedAtMs: number },
  ) {
    if (initial !== undefined) {
      this.install(initial.set);
      this.loadedAtMs = this.triedAtMs = initial.loadedAtMs;
    }
  }

  /** Counts the changes of the keys since start. */
  get generation(): number {
    return this.changes;
  }

  /** For jose's `jwtVerify`: the key a token's header names. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const keys = await this.usableKeys();
    try {
      return await keys(header, token);
    } catch (thrown) {
      if (!(thrown instanceof errors.JWKSNoMatchingKey) || !this.mayLoad()) throw thrown;
      await this.loadWithin();
      return this.keys!(header, token);
    }
  };

  /**
   * The keys to verify with now. Starts a background load of a set past its age; waits on a load (bounded) only
   * when there are no keys, or none loaded within `maxStaleMs`. Throws UNAVAILABLE / KEYS_UNAVAILABLE when there are
   * still none to use: the provider is away, which is not the caller's fault.
   */
  async usableKeys(): Promise<JWTVerifyGetKey> {
    const stale = Date.now() - this.loadedAtMs >= this.refresh.maxAgeMs || !this.usable();
    if (stale && this.mayLoad()) void this.load();
    if (!this.usable() && this.pending !== undefined) await this.loadWithin();
    if (this.keys === undefined || !this.usable()) {
      const why = this.keys === undefined ? "no keys loaded yet" : `no keys loaded for over RECQ_JWKS_MAX_STALE_MS (${this.refresh.maxStaleMs} ms)`;
      throw new MeshError(status.UNAVAILABLE, `callers' tokens cannot be verified now: ${why} from the identity provider`, Reason.KEYS_UNAVAILABLE);
    }
    return this.keys;
  }

  private usable(): boolean {
    return this.keys !== undefined && (this.refresh.maxStaleMs === 0 || Date.now() - this.loadedAtMs <= this.refresh.maxStaleMs);
  }

  private mayLoad(): boolean {
    return this.pending !== undefined || Date.now() - this.triedAtMs >= this.refresh.cooldownMs;
  }

  /** Waits for a load (started if none runs), but no longer than `timeoutMs`: a caller's wait is bounded whatever the source does. */
  private async loadWithin(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.refresh.timeoutMs).unref()));
    try {
      await Promise.race([this.load(), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One load at a time: tokens that must wait for it wait for the same one. It never rejects. */
  private load(): Promise<void> {
    this.pending ??= this.loadOnce().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async loadOnce(): Promise<void> {
    try {
      this.install(await this.source.load());
      this.loadedAtMs = Date.now();
    } catch (thrown) {
      const error = describe(thrown);
      this.logger.error("JWKS refresh failed: the last good keys stay in use", { jwks: this.source.name, keys: this.keys === undefined ? "none" : "kept", error });
    } finally {
      // The cooldown runs from the end of a load: a fetch that took its whole timeout is not tried again at once.
      this.triedAtMs = Date.now();
    }
  }

  /** Takes a loaded set (jose checks its form: a malformed one throws, and changes nothing). */
  private install(set: JSONWebKeySet): void {
    const keys = createLocalJWKSet(set);
    const json = JSON.stringify(set);
    if (json === this.loadedJson) return;
    const first = this.loadedJson === undefined;
    this.keys = keys;
    this.loadedJson = json;
    if (!first) this.changes += 1;
    this.logger.info(first ? "JWKS loaded" : "JWKS changed: tokens are verified with the new keys", { jwks: this.source.name, kids: set.keys.map((key) => key.kid ?? "(none)") });
  }
}

/** An error for the log, with its cause (fetch's own message, "fetch failed", says nothing without it). */
function describe(thrown: unknown): string {
  const cause = (thrown as { cause?: unknown } | undefined)?.cause;
  // Read by shape, not `instanceof Error`: fetch's errors and causes may come from another realm.
  const causeMessage = typeof cause === "object" && cause !== null && "message" in cause ? ` (${String(cause.message)})` : "";
  return `${String(thrown)}${causeMessage}`;
}
