import type { Request } from 'express';
import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import { randomToken } from '../crypto/random.js';
import { readSessionCookie } from '../http/session-auth.js';
import type { AuthenticatedUser } from '../options.js';
import { describeUserAgent } from '../routes/user-agent.js';
import { newSessionKey } from '../store/session-key.js';
import type { DeviceSessionRecord, IdpLink } from '../store/types.js';

export interface StartedDeviceSession {
  session: DeviceSessionRecord;
  /** The generation-0 credential for the cookie (only its hash is stored). */
  cookie: { generation: number; secret: string };
}

/**
 * Starts a device session for a user the caller has authenticated (password login, OIDC callback): a new session
 * and a new credential every time (no fixation); a session this browser already had is ended, so signing in again on
 * one device does not pile up sessions. The caller sets the cookie (`sendTokenResponse` or `setSessionCookie`).
 */
export async function startDeviceSession(
  ctx: BffContext,
  req: Request,
  user: AuthenticatedUser,
  extra: { deviceName?: string; idp?: IdpLink } = {},
): Promise<StartedDeviceSession> {
  const now = ctx.now();
  const previous = readSessionCookie(ctx, req);
  if (previous !== null) await ctx.store.endSession(previous.key, 'logout', now, ctx.markerTtlMs);

  const userAgent = (req.get('user-agent') ?? '').slice(0, 256);
  const secret = randomToken(32);
  const session: DeviceSessionRecord = {
    key: newSessionKey(user.id),
    sid: randomToken(16),
    userId: user.id,
    userName: user.name,
    deviceName: extra.deviceName ?? describeUserAgent(userAgent),
    userAgent,
    createdAt: now,
    lastActiveAt: now,
    idleExpiresAt: Math.min(now + ctx.options.idleTimeoutSeconds * 1000, now + ctx.options.absoluteTimeoutSeconds * 1000),
    absoluteExpiresAt: now + ctx.options.absoluteTimeoutSeconds * 1000,
    generation: 0,
    credentialHash: sha256(secret),
    previousHash: null,
    successorSealed: null,
    graceUntil: 0,
    ...(extra.idp ? { idp: extra.idp } : {}),
  };
  await ctx.store.createSession(session);
  ctx.metrics.logins.inc({ outcome: 'success' });
  ctx.logger.info({ event: 'login', userId: user.id, sid: session.sid, via: extra.idp ? 'oidc' : 'password' }, 'login');
  return { session, cookie: { generation: 0, secret } };
}
