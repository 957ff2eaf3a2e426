import type { PublicSession, PublicUser } from '@latchkey/shared';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { StoreUnavailableError, type DeviceSessionRecord } from '../store/types.js';
import type { SessionReadCache } from './session-cache.js';

/** What `bff.getSession` answers for a live device session: what a page may show, never a credential. */
export interface ServerSession {
  user: PublicUser;
  session: PublicSession;
  /** The application's claims (and `scope`) granted at login, as every access token of the session carries them; `{}` when none. */
  claims: Readonly<Record<string, unknown>>;
}

/**
 * The device session a request's cookie holds, read-only, for server rendering (`bff.getSession`): never rotates, never
 * writes the store, never sets a cookie. At most one store read; none when a recent resolution of the same cookie is
 * cached (SessionReadCache, session-cache.ts: its bounds, and the revocation view checked on every answer). The view is
 * checked again on a fresh read: the store may not have seen a revocation the view knows of (a tenant revocation
 * racing a login, shard by shard).
 */
export class ServerSessionReader {
  constructor(private readonly cache: SessionReadCache) {}

  /** The session of a `Cookie` header, or null. Rejects with LatchkeyError `temporarily_unavailable` when the store cannot answer. */
  async read(cookieHeader: string | undefined | null): Promise<ServerSession | null> {
    return (await this.readRecord(cookieHeader))?.answer ?? null;
  }

  /** `read`, with the stored session record behind the answer (for the server-side access token). */
  async readRecord(cookieHeader: string | undefined | null): Promise<{ answer: ServerSession; record: DeviceSessionRecord } | null> {
    let resolved;
    try {
      resolved = await this.cache.resolve(cookieHeader);
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw new LatchkeyError('temporarily_unavailable', undefined, { cause: error });
      throw error;
    }
    if (resolved === null || this.cache.ended(resolved.session)) return null;
    return { answer: toServerSession(resolved.session), record: resolved.session };
  }
}

export function toServerSession(session: DeviceSessionRecord): ServerSession {
  return {
    user: { id: session.userId, name: session.userName },
    session: { id: session.sid, deviceName: session.deviceName, createdAt: session.createdAt },
    claims: session.claims ?? {},
  };
}
