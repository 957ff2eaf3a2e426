import { Store, type SessionData } from 'express-session';

/** The three operations the store needs, each on one key: the RedisStore's connection and deadline, or the MemoryStore's map. */
export interface LoginTransactionBackend {
  keyOf(id: string): string;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  destroy(key: string): Promise<void>;
}

/** Used when express-session gives no cookie expiry (the BFF always sets one): never a key without a TTL. */
const FALLBACK_TTL_MS = 10 * 60_000;

/**
 * A minimal express-session store for the OIDC login transaction, on the session store's backend: one key per
 * transaction, always written with a TTL (the transaction cookie's expiry), one key per command (Redis Cluster).
 * Only get/set/destroy: the transaction is never listed, touched or cleared in bulk. (Not express-session's
 * MemoryStore in memory mode: it never sweeps abandoned entries, so memory would grow with history.)
 */
export class LoginTransactionStore extends Store {
  constructor(private readonly backend: LoginTransactionBackend) {
    super();
  }

  override get(id: string, callback: (error: unknown, session?: SessionData | null) => void): void {
    this.backend.get(this.backend.keyOf(id)).then(
      (value) => {
        if (value === null) return callback(null, null);
        let parsed: SessionData | null = null;
        try {
          parsed = JSON.parse(value) as SessionData;
        } catch {
          // A corrupt entry is no transaction.
        }
        callback(null, parsed);
      },
      (error: unknown) => callback(error),
    );
  }

  override set(id: string, session: SessionData, callback?: (error?: unknown) => void): void {
    // express-session stamped `expires` with Date.now(), so the remaining time is measured on that same clock.
    const expires = session.cookie?.expires ? new Date(session.cookie.expires).getTime() - Date.now() : FALLBACK_TTL_MS;
    const ttlMs = Math.max(1, Math.ceil(expires));
    this.backend.set(this.backend.keyOf(id), JSON.stringify(session), ttlMs).then(
      () => callback?.(),
      (error: unknown) => callback?.(error),
    );
  }

  override destroy(id: string, callback?: (error?: unknown) => void): void {
    this.backend.destroy(this.backend.keyOf(id)).then(
      () => callback?.(),
      (error: unknown) => callback?.(error),
    );
  }
}
