import type { JWK } from 'jose';
import type { SigningKeyDescription } from '@latchkey/shared';
import { systemClock, type Clock } from '../clock.js';
import { randomToken } from '../crypto/random.js';
import { seal, unsealWithAny } from '../crypto/seal.js';
import type { SessionStore } from '../store/types.js';
import { generateSigningKey, loadSigningKey, type LoadedSigningKey, type SigningAlgorithm, type StoredSigningKey } from './signing-key.js';

const SEAL_INFO = 'latchkey key ring v1';
const MAX_CAS_ATTEMPTS = 5;
/** An issuer no instance has re-recorded for this long is dropped from the ring (live instances re-record theirs). */
const ISSUER_TTL_MS = 7 * 24 * 3600_000;
/** An instance refreshes its own entry when it is older than this, on any write of the ring. */
const ISSUER_REFRESH_MS = 24 * 3600_000;

/**
 * An issuer of this deployment: instances that share the ring (same store, same secrets) are one deployment, so a
 * token one of them issued is accepted by the others even when their issuer URLs differ (`http://localhost:$PORT`).
 * `audiences` is null when the instance's audience is its issuer by default.
 */
export interface DeploymentIssuer {
  issuer: string;
  audiences: string[] | null;
  seenAt: number;
}

/** What is sealed in the store. Rings written before issuers were recorded are a bare key array. */
interface SealedRing {
  keys: StoredSigningKey[];
  issuers: DeploymentIssuer[];
}

export interface KeyRingOptions {
  store: SessionStore;
  /** Deployment secrets, newest first: the ring is sealed under the first and opened with any. */
  secrets: readonly string[];
  algorithm: SigningAlgorithm;
  /** How long a retired key keeps verifying: the longest access-token lifetime plus clock skew. */
  retireAfterMs: number;
  /** Stamps new keys and decides retirement; default the system clock. */
  clock?: Clock;
  /** This instance's issuer and audiences (null: the issuer, by default), recorded in the ring. */
  self?: { issuer: string; audiences: readonly string[] | null };
}

/**
 * The signing keys every instance of a deployment shares, kept sealed in the store.
 * Each change is a compare-and-swap on the ring's version, so two instances never fork it.
 */
export class KeyRing {
  #version: string | null = null;
  #keys: LoadedSigningKey[] = [];
  #issuers: DeploymentIssuer[] = [];
  #recordingSelf: Promise<void> | null = null;
  readonly #options: KeyRingOptions;
  readonly #clock: Clock;
  readonly #listeners = new Set<(version: string | null) => void>();

  constructor(options: KeyRingOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Calls `listener` after every change of the ring in this process (load, rotation, reload). */
  subscribe(listener: (version: string | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get version(): string | null {
    return this.#version;
  }

  /** Loads the ring, creating it with one active key when the store has none. */
  async load(): Promise<void> {
    await this.#update(async (keys) => (keys.length > 0 ? null : [await this.#fresh('active')]));
  }

  /** Reloads when the store's version differs from the one in memory. */
  async syncTo(version: string | null): Promise<void> {
    if (version !== null && version !== this.#version) await this.#reload();
  }

  /** Reloads when the store holds another version than the one in memory (one read when nothing changed). */
  async syncWithStore(): Promise<void> {
    const current = await this.#options.store.getKeyRing();
    if ((current?.version ?? null) !== this.#version) await this.#reload();
  }

  /** The key that signs new tokens. */
  activeKey(): LoadedSigningKey {
    const key = this.#keys.find((k) => k.state === 'active');
    if (!key) throw new Error('key ring has no active key; call load() first');
    return key;
  }

  /** The key with this kid, if it may verify (staged keys never signed anything, so they verify nothing). */
  verificationKey(kid: string): LoadedSigningKey | undefined {
    return this.#keys.find((k) => k.kid === kid && k.state !== 'staged');
  }

  /** Every issuer recorded in the ring (this instance's included once it has loaded). */
  deploymentIssuers(): readonly DeploymentIssuer[] {
    return this.#issuers;
  }

  /** Public JWKs of every key that is published: staged, active and retired. */
  publicJwks(): JWK[] {
    return this.#keys.map((k) => k.publicJwk);
  }

  /** The ring as operators see it: kid, algorithm, state, when made and (retired keys) until when it verifies. No key material. */
  describe(): SigningKeyDescription[] {
    return this.#keys.map(({ kid, alg, state, createdAt, retireAfter }) => ({ kid, alg, state, createdAt, retireAfter }));
  }

  /** Publishes a new key without signing with it yet. Replaces an earlier staged key. */
  async stageKey(): Promise<string> {
    const staged = await this.#fresh('staged');
    await this.#update((keys) => Promise.resolve([...keys.filter((k) => k.state !== 'staged'), staged]));
    return staged.kid;
  }

  /**
   * Makes the staged key (or a new one when none is staged) the active key; the old active key
   * verifies until every token it signed has expired.
   */
  async rotate(): Promise<string> {
    const now = this.#clock.now();
    let activeKid = '';
    await this.#update(async (keys) => {
      const staged = keys.find((k) => k.state === 'staged') ?? (await this.#fresh('staged'));
      activeKid = staged.kid;
      return [
        ...keys
          .filter((k) => k.kid !== staged.kid)
          .map((k) => (k.state === 'active' ? { ...k, state: 'retired' as const, retireAfter: now + this.#options.retireAfterMs } : k)),
        { ...staged, state: 'active' as const },
      ];
    });
    return activeKid;
  }

  /** Drops every key at once and starts over with one new key: every outstanding token stops verifying. */
  async emergencyRotate(): Promise<string> {
    const fresh = await this.#fresh('active');
    await this.#update(() => Promise.resolve([fresh]));
    return fresh.kid;
  }

  async #fresh(state: 'active' | 'staged'): Promise<StoredSigningKey> {
    return generateSigningKey(this.#options.algorithm, state, this.#clock.now());
  }

  async #reload(): Promise<void> {
    const current = await this.#options.store.getKeyRing();
    const ring = current === null ? { keys: [], issuers: [] } : this.#open(current.sealed);
    await this.#install(current?.version ?? null, ring);
  }

  /** Read-modify-write with compare-and-swap; `change` returns null to leave the ring as it is. */
  async #update(change: (keys: StoredSigningKey[]) => Promise<StoredSigningKey[] | null>): Promise<void> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.#options.store.getKeyRing();
      const ring = current === null ? { keys: [], issuers: [] } : this.#open(current.sealed);
      const changed = await change(ring.keys);
      const issuers = this.#withSelf(ring.issuers);
      if (changed === null && issuers === ring.issuers) {
        await this.#install(current?.version ?? null, ring);
        return;
      }
      const next: SealedRing = { keys: this.#prune(changed ?? ring.keys), issuers };
      const version = randomToken(12);
      const sealed = seal(JSON.stringify(next), this.#secret(), SEAL_INFO);
      if (await this.#options.store.putKeyRing(current?.version ?? null, { version, sealed })) {
        await this.#install(version, next);
        return;
      }
    }
    throw new Error('key ring: too many concurrent changes; try again');
  }

  /** The issuer list with this instance's entry current and long-unseen entries dropped; the same array when unchanged. */
  #withSelf(issuers: DeploymentIssuer[]): DeploymentIssuer[] {
    const self = this.#options.self;
    if (!self) return issuers;
    const now = this.#clock.now();
    const audiences = self.audiences === null ? null : [...self.audiences];
    const own = issuers.find((i) => i.issuer === self.issuer);
    const stale = issuers.some((i) => i.issuer !== self.issuer && i.seenAt < now - ISSUER_TTL_MS);
    const current = own !== undefined && JSON.stringify(own.audiences) === JSON.stringify(audiences) && own.seenAt >= now - ISSUER_REFRESH_MS;
    if (current && !stale) return issuers;
    return [...issuers.filter((i) => i.issuer !== self.issuer && i.seenAt >= now - ISSUER_TTL_MS), { issuer: self.issuer, audiences, seenAt: now }];
  }

  #prune(keys: StoredSigningKey[]): StoredSigningKey[] {
    const now = this.#clock.now();
    return keys.filter((k) => k.state !== 'retired' || (k.retireAfter ?? 0) > now);
  }

  async #install(version: string | null, ring: SealedRing): Promise<void> {
    const loaded = await Promise.all(this.#prune(ring.keys).map(loadSigningKey));
    const changed = version !== this.#version;
    this.#keys = loaded;
    this.#issuers = ring.issuers;
    this.#version = version;
    if (changed) for (const listener of this.#listeners) listener(version);
    // A ring written without this instance (an instance of an older version, or this one's entry aged out while it
    // kept running): record it again, so the others keep accepting its tokens.
    const self = this.#options.self;
    if (version !== null && self && !ring.issuers.some((i) => i.issuer === self.issuer) && this.#recordingSelf === null) {
      this.#recordingSelf = this.#update(() => Promise.resolve(null))
        .catch(() => undefined)
        .finally(() => (this.#recordingSelf = null));
    }
  }

  #open(sealed: string): SealedRing {
    const json = unsealWithAny(sealed, this.#options.secrets, SEAL_INFO);
    if (json === null) {
      throw new Error('key ring: cannot open the stored key ring with any configured secret (was LATCHKEY_SECRET changed?)');
    }
    const parsed = JSON.parse(json) as StoredSigningKey[] | SealedRing;
    return Array.isArray(parsed) ? { keys: parsed, issuers: [] } : parsed;
  }

  #secret(): string {
    const secret = this.#options.secrets[0];
    if (secret === undefined) throw new Error('key ring needs at least one secret');
    return secret;
  }
}
