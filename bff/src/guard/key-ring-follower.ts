import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { SessionStore } from '../store/types.js';

/** How often a guard asks the store for the key ring's version, besides the log's key-ring events and after an outage. */
const KEY_RING_CHECK_INTERVAL_MS = 60_000;

export interface KeyRingFollowerOptions {
  keyRing: KeyRing;
  store: SessionStore;
  logger: Logger;
  clock: Clock;
  /** Drops every verified token (a verified token may have been signed by a dropped key). */
  clearVerified: () => void;
  /** At most one reload per this many ms for tokens naming an unknown signer. */
  unknownKidCooldownMs: number;
  /** This guard's own issuer and audiences. */
  issuer: string;
  audiences: readonly string[];
  /** See GuardOptions.acceptDeploymentIssuers and audienceIsDefault. */
  acceptDeploymentIssuers: boolean;
  audienceIsDefault: boolean;
}

/**
 * Keeps a guard's key ring current: on the log's key-ring events, after an outage of the revocation feed, once a
 * minute, and (rate-limited) for a token naming a signer this process has not loaded. Checks wait while a reload
 * is under way (`syncing`). Also answers which `iss` and `aud` values the ring makes acceptable.
 */
export class KeyRingFollower {
  /** Set while the ring is being reloaded after a key-ring event: checks wait for it. */
  syncing: Promise<void> | null = null;
  private checkedAt: number;
  private lastUnknownSignerReload = Number.NEGATIVE_INFINITY;
  private accepted: { version: string | null | undefined; issuers: string[]; audiences: string[] };

  constructor(private readonly options: KeyRingFollowerOptions) {
    this.checkedAt = options.clock.now();
    this.accepted = { version: undefined, issuers: [options.issuer], audiences: [...options.audiences] };
    options.keyRing.subscribe(() => options.clearVerified());
  }

  /** The log announced a new version. */
  onKeyRingEvent(version: string): void {
    this.sync(() => this.options.keyRing.syncTo(version));
  }

  /**
   * The revocation feed answers again after failed reads. A key-ring event written while the feed was down may be
   * gone by now (trimmed, or expired after 10 min), and an emergency rotation missed would leave a compromised key
   * trusted here: ask the store, whatever the log says.
   */
  onFeedReconnect(): void {
    this.sync(() => this.options.keyRing.syncWithStore());
  }

  /**
   * After each read of the feed. The same for a guard that missed the event without a failed read (a process paused
   * for minutes): at most one read of the ring's version a minute, whatever the log said.
   */
  onFeedRead(): void {
    const now = this.options.clock.now();
    if (now - this.checkedAt < KEY_RING_CHECK_INTERVAL_MS) return;
    this.checkedAt = now;
    // No cache clear up front: nothing says the ring changed, and if it did, the ring's subscribers clear it.
    this.sync(() => this.options.keyRing.syncWithStore(), false);
  }

  /**
   * A token names a signer this process does not know: another instance may have rotated keys since this one loaded
   * the ring (a JWKS refetch, in effect). False, without reading, within the cooldown of the last such reload.
   */
  async reloadForUnknownSigner(): Promise<boolean> {
    // The cooldown is real elapsed time (it bounds work), not the clock expiry decisions use.
    if (performance.now() - this.lastUnknownSignerReload < this.options.unknownKidCooldownMs) return false;
    this.lastUnknownSignerReload = performance.now();
    const ring = await this.options.store.getKeyRing();
    await this.options.keyRing.syncTo(ring?.version ?? null);
    return true;
  }

  /** Accepted iss and aud values, recomputed when the ring changes. */
  acceptedClaims(): { readonly issuers: readonly string[]; readonly audiences: readonly string[] } {
    const { keyRing, acceptDeploymentIssuers, audienceIsDefault, issuer, audiences } = this.options;
    if (!acceptDeploymentIssuers || this.accepted.version === keyRing.version) return this.accepted;
    const recorded = keyRing.deploymentIssuers();
    this.accepted = {
      version: keyRing.version,
      issuers: [...new Set([issuer, ...recorded.map((i) => i.issuer)])],
      audiences: audienceIsDefault ? [...new Set([...audiences, ...recorded.filter((i) => i.audiences === null).map((i) => i.issuer)])] : [...audiences],
    };
    return this.accepted;
  }

  /** Reloads the key ring (by default with the verified tokens dropped first). */
  private sync(load: () => Promise<void>, clearVerified = true): void {
    if (clearVerified) this.options.clearVerified();
    const sync = load()
      .catch((error: unknown) =>
        this.options.logger.error({ event: 'key_ring_reload_failed', err: { message: (error as Error).message } }, 'key ring reload failed'),
      )
      .finally(() => {
        if (this.syncing === sync) this.syncing = null;
      });
    this.syncing = sync;
  }
}
