import type { JWK } from 'jose';
import { randomToken } from '../crypto/random.js';
import { seal, unsealWithAny } from '../crypto/seal.js';
import type { SessionStore } from '../store/types.js';
import {
  generateSigningKey,
  loadSigningKey,
  type LoadedSigningKey,
  type SigningAlgorithm,
  type StoredSigningKey,
} from './signing-key.js';

const SEAL_INFO = 'latchkey key ring v1';
const MAX_CAS_ATTEMPTS = 5;

export interface KeyRingOptions {
  store: SessionStore;
  /** Deployment secrets, newest first: the ring is sealed under the first and opened with any. */
  secrets: readonly string[];
  algorithm: SigningAlgorithm;
  /** How long a retired key keeps verifying: the longest access-token lifetime plus clock skew. */
  retireAfterMs: number;
  now?: () => number;
}

/**
 * The signing keys every instance of a deployment shares, kept sealed in the store.
 * Each change is a compare-and-swap on the ring's version, so two instances never fork it.
 */
export class KeyRing {
  #version: string | null = null;
  #keys: LoadedSigningKey[] = [];
  readonly #options: KeyRingOptions;
  readonly #now: () => number;
  readonly #listeners = new Set<(version: string | null) => void>();

  constructor(options: KeyRingOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
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

  /** Public JWKs of every key that is published: staged, active and retired. */
  publicJwks(): JWK[] {
    return this.#keys.map((k) => k.publicJwk);
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
    const now = this.#now();
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
    return generateSigningKey(this.#options.algorithm, state, this.#now());
  }

  async #reload(): Promise<StoredSigningKey[]> {
    const current = await this.#options.store.getKeyRing();
    const stored = current === null ? [] : this.#open(current.sealed);
    await this.#install(current?.version ?? null, stored);
    return stored;
  }

  /** Read-modify-write with compare-and-swap; `change` returns null to leave the ring as it is. */
  async #update(change: (keys: StoredSigningKey[]) => Promise<StoredSigningKey[] | null>): Promise<void> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.#options.store.getKeyRing();
      const keys = current === null ? [] : this.#open(current.sealed);
      const changed = await change(keys);
      if (changed === null) {
        await this.#install(current?.version ?? null, keys);
        return;
      }
      const next = this.#prune(changed);
      const version = randomToken(12);
      const sealed = seal(JSON.stringify(next), this.#secret(), SEAL_INFO);
      if (await this.#options.store.putKeyRing(current?.version ?? null, { version, sealed })) {
        await this.#install(version, next);
        return;
      }
    }
    throw new Error('key ring: too many concurrent changes; try again');
  }

  #prune(keys: StoredSigningKey[]): StoredSigningKey[] {
    const now = this.#now();
    return keys.filter((k) => k.state !== 'retired' || (k.retireAfter ?? 0) > now);
  }

  async #install(version: string | null, stored: StoredSigningKey[]): Promise<void> {
    const loaded = await Promise.all(this.#prune(stored).map(loadSigningKey));
    const changed = version !== this.#version;
    this.#keys = loaded;
    this.#version = version;
    if (changed) for (const listener of this.#listeners) listener(version);
  }

  #open(sealed: string): StoredSigningKey[] {
    const json = unsealWithAny(sealed, this.#options.secrets, SEAL_INFO);
    if (json === null) {
      throw new Error('key ring: cannot open the stored key ring with any configured secret (was LATCHKEY_SECRET changed?)');
    }
    return JSON.parse(json) as StoredSigningKey[];
  }

  #secret(): string {
    const secret = this.#options.secrets[0];
    if (secret === undefined) throw new Error('key ring needs at least one secret');
    return secret;
  }
}
