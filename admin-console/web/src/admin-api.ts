import type { SessionClient } from '@latchkey/client';
import type { ActivityEntry, SigningKeyDescription as RingKey } from '@latchkey/shared';

/** A refused or failed admin request: the HTTP status, the error code and the server's sentence. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export interface SessionRow {
  id: string;
  deviceName: string;
  userAgent: string;
  createdAt: number;
  lastActiveAt: number;
  current: boolean;
  tenant?: string;
  idp?: { iss: string; sub: string };
}

export interface Operator {
  sub: string;
  sid: string;
  tenant: string | null;
  keys: boolean;
}

export type { ActivityEntry, SigningKeyDescription as RingKey } from '@latchkey/shared';

const seg = encodeURIComponent;

/**
 * The admin router, called with the operator's access token (never stored: the session client keeps it in memory).
 * A 401 gets one refresh and one retry: after an emergency rotation the operator's own token is refused, and the
 * refresh signs a new one with the new key.
 */
export function createAdminApi(client: SessionClient, adminUrl: string) {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let token = await client.getAccessToken();
    for (let attempt = 0; ; attempt++) {
      if (token === null) throw new AdminError(401, 'no_session', 'You are signed out. Sign in again.');
      let res: Response;
      try {
        res = await fetch(adminUrl + path, {
          method,
          headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          cache: 'no-store',
          credentials: 'omit',
        });
      } catch {
        throw new AdminError(0, 'network_error', 'The server could not be reached. Check the connection and try again.');
      }
      if (res.status === 401 && attempt === 0) {
        token = await client.refresh(token).catch(() => null);
        continue;
      }
      const text = await res.text();
      const parsed = text ? (JSON.parse(text) as unknown) : undefined;
      if (!res.ok) {
        const { error, message } = (parsed ?? {}) as { error?: string; message?: string };
        throw new AdminError(res.status, error ?? 'http_error', message ?? `The server answered HTTP ${res.status}.`);
      }
      return parsed as T;
    }
  }
  return Object.freeze({
    operator: () => call<Operator>('GET', '/operator'),
    sessions: (userId: string) => call<{ sessions: SessionRow[] }>('GET', `/users/${seg(userId)}/sessions`),
    endSession: (userId: string, sid: string) => call<void>('DELETE', `/users/${seg(userId)}/sessions/${seg(sid)}`),
    revokeUser: (userId: string) => call<{ sessionsEnded: number }>('DELETE', `/users/${seg(userId)}/sessions`),
    revokeTenant: (tenant: string) => call<{ sessionsEnded: number }>('DELETE', `/tenants/${seg(tenant)}/sessions`),
    revokeToken: (body: { jti: string } | { token: string }) => call<{ result: 'revoked' | 'already_revoked' | 'expired' }>('POST', '/tokens/revoke', body),
    keys: () => call<{ keys: RingKey[]; now: number }>('GET', '/keys'),
    keyOperation: (operation: 'stage' | 'rotate' | 'emergency-rotate') => call<{ kid: string }>('POST', `/keys/${operation}`),
    activity: () => call<{ entries: ActivityEntry[]; now: number }>('GET', '/activity'),
  });
}

export type AdminApi = ReturnType<typeof createAdminApi>;
