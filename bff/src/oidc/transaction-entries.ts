import { MemoryStore as ExpressSessionMemoryStore } from 'express-session';
import type { BffContext } from '../context.js';
import type { TransactionSessionStore } from '../store/types.js';

const promisify = <T>(run: (done: (error?: unknown, value?: T) => void) => void) =>
  new Promise<T | undefined>((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));

/**
 * Short-lived entries on the session store's backend, through its login transaction store (one key with a TTL each),
 * so a browser's next request may land on any instance: the OIDC login transaction and the RP-initiated logout handle.
 * Each entry is stored in express-session's shape, `{ cookie: { expires }, [field]: value }`, whose expiry sets the
 * backend's TTL. A store without a login transaction store gets a per-process map (`onFallback` is told).
 */
export class TransactionEntries<T> {
  private constructor(
    private readonly store: TransactionSessionStore,
    private readonly field: string,
  ) {}

  static open<T>(ctx: BffContext, prefix: string, field: string, onFallback?: () => void): TransactionEntries<T> {
    let store = ctx.store.createLoginTransactionStore?.(prefix);
    if (!store) {
      onFallback?.();
      store = new ExpressSessionMemoryStore();
    }
    return new TransactionEntries<T>(store, field);
  }

  async get(id: string): Promise<T | null> {
    const entry = await promisify<Record<string, unknown> | null>((done) => this.store.get(id, done as (error: unknown, value?: unknown) => void));
    return (entry?.[this.field] as T | undefined) ?? null;
  }

  /** Stores `value` until `expires` (stamped on Date.now(), the clock express-session's stores measure it on). */
  async put(id: string, value: T, expires: Date): Promise<void> {
    await promisify((done) => this.store.set(id, { cookie: { expires }, [this.field]: value } as never, done));
  }

  async destroy(id: string): Promise<void> {
    await promisify((done) => this.store.destroy(id, done));
  }
}
