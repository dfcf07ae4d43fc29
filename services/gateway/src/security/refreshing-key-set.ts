import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { Logger } from "@recq-mesh/protocol";

/** Where a key set comes from: a JWKS URL or file. `load` rejects when it cannot give a set. */
export interface KeySetSource {
  /** For the log: the URL or the file. */
  readonly name: string;
  load(): Promise<JSONWebKeySet>;
}

export interface KeySetRefresh {
  /** After a load, successful or not, none other for this long. */
  cooldownMs: number;
  /** A set older than this is loaded again before it verifies the next token. */
  maxAgeMs: number;
}

/**
 * A JWKS kept current: loaded again when it is older than `maxAgeMs`, and when a token names a key it lacks (a key
 * the identity provider has just added), each at most once per `cooldownMs`. A load that fails — unreachable,
 * malformed — keeps the last good keys and is logged. `generation` counts the changes of the keys, so that what was
 * verified with an older set is verified again: a token signed by a removed key is refused after the refresh.
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
    await this.refreshIfStale();
    if (this.keys === undefined) throw new errors.JWKSNoMatchingKey(`no keys loaded from ${this.source.name} yet`);
    try {
      return await this.keys(header, token);
    } catch (thrown) {
      if (!(thrown instanceof errors.JWKSNoMatchingKey) || !this.mayLoad()) throw thrown;
      await this.load();
      return this.keys(header, token);
    }
  };

  /** Loads the set again when it is older than `maxAgeMs` (and no load was tried within the cooldown); else undefined, at no cost. */
  refreshIfStale(): Promise<void> | undefined {
    if (Date.now() - this.loadedAtMs < this.refresh.maxAgeMs || !this.mayLoad()) return undefined;
    return this.load();
  }

  private mayLoad(): boolean {
    return this.pending !== undefined || Date.now() - this.triedAtMs >= this.refresh.cooldownMs;
  }

  /** One load at a time: tokens arriving meanwhile wait for it. */
  private load(): Promise<void> {
    this.pending ??= this.loadOnce().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async loadOnce(): Promise<void> {
    try {
      this.install(await this.source.load());
      this.loadedAtMs = Date.now();
    } catch (thrown) {
      const error = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
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
