import type { CurrentSessionResponse, TokenResponse } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { authenticationOf, issueAccessToken } from '../tokens/issue-access-token.js';
import { sessionCookieHeaders } from './cookie.js';

/** What a login or refresh answers: a fresh access token for the session, and the cookie carrying its credential. */
export interface IssuedSession {
  /** Without a token when `tokens.browser` is off (proxy mode: no token ever reaches the browser). */
  body: TokenResponse | CurrentSessionResponse;
  /** The `Set-Cookie` lines of the (new or rotated) credential: the session cookie first, then its hint. */
  setCookies: string[];
}

export async function issueSessionTokens(
  ctx: BffContext,
  session: DeviceSessionRecord,
  cookie: { generation: number; secret: string },
): Promise<IssuedSession> {
  const { tokens } = ctx.options;
  const setCookies = sessionCookieHeaders(ctx, session, cookie);
  const publicView: CurrentSessionResponse = {
    user: { id: session.userId, name: session.userName },
    session: { id: session.sid, deviceName: session.deviceName, createdAt: session.createdAt },
  };
  if (!tokens.browser) return { body: publicView, setCookies };
  const issued = await issueAccessToken({
    keyRing: ctx.keyRing,
    issuer: tokens.issuer,
    audience: tokens.audience,
    clientId: tokens.clientId,
    userId: session.userId,
    sid: session.sid,
    ttlSeconds: tokens.ttlSeconds,
    notAfterMs: session.absoluteExpiresAt,
    nowMs: ctx.now(),
    maxTokenBytes: tokens.maxBytes,
    ...(session.claims ? { claims: session.claims } : {}),
    authentication: authenticationOf(session),
  });
  const body: TokenResponse = { accessToken: issued.token, tokenType: 'Bearer', expiresAt: issued.expiresAt, ...publicView };
  return { body, setCookies };
}
