import type { Response } from 'express';
import type { TokenResponse } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { encodeSessionCookie } from '../crypto/session-cookie-value.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { issueAccessToken } from '../tokens/issue-access-token.js';
import { setSessionCookie } from './session-cookie.js';

/**
 * Sets the rotated cookie and answers with a fresh access token for the session. `afterCookie` may set more cookies:
 * after the session cookie's, so it stays the first Set-Cookie line.
 */
export async function sendTokenResponse(
  ctx: BffContext,
  res: Response,
  session: DeviceSessionRecord,
  cookie: { generation: number; secret: string },
  afterCookie?: () => void,
): Promise<void> {
  const { options } = ctx;
  const issued = await issueAccessToken({
    keyRing: ctx.keyRing,
    issuer: options.issuer,
    audience: options.audience,
    clientId: options.clientId,
    userId: session.userId,
    sid: session.sid,
    ttlSeconds: options.accessTokenTtlSeconds,
    notAfterMs: session.absoluteExpiresAt,
    nowMs: ctx.now(),
    maxTokenBytes: options.maxTokenBytes,
    ...(session.claims ? { claims: session.claims } : {}),
  });
  const value = encodeSessionCookie({ key: session.key, generation: cookie.generation, secret: cookie.secret }, options.secrets);
  setSessionCookie(res, options, value, session.absoluteExpiresAt, ctx.now());
  afterCookie?.();
  const body: TokenResponse = {
    accessToken: issued.token,
    tokenType: 'Bearer',
    expiresAt: issued.expiresAt,
    user: { id: session.userId, name: session.userName },
    session: { id: session.sid, deviceName: session.deviceName, createdAt: session.createdAt },
  };
  res.status(200).json(body);
}
