import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRequest, AuthResult, AuthRoute, Reply } from '../http/exchange.js';
import { ipKey, RequestLimit } from '../http/rate-limit.js';
import { renewAtIdpIfDue } from '../oidc/renew-at-idp.js';
import { tracedRoute } from '../observability/tracing-route.js';
import { clearedSessionCookieHeaders, readSessionCookie, sessionCookieHeaders } from '../session/cookie.js';
import { endSessions } from '../session/end.js';
import { replayedSuccessor, reportTheft, rotateCookie } from '../session/rotate.js';
import { issueSessionTokens } from '../session/token-response.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { END_REASON_CODE } from '../session/authenticate.js';

/**
 * POST /refresh. Rotates the device session's credential (atomic in the store) and answers with a new access token.
 * - current credential: rotate to the successor generated here;
 * - previous credential within the grace window, successor not yet used: answer with that same successor (concurrent
 *   tabs, a retry after a lost response), unsealed with the presented credential;
 * - any older credential: theft. The store has already revoked the session and its access tokens.
 *
 * Rate limited per client IP and per device session (429 with Retry-After, which the client retries and never
 * treats as a sign-out); the cookie and the session are left as they are.
 */
export function createRefreshRoute(ctx: BffContext, isTenantRevoked: TenantRevocationCheck = () => false): AuthRoute {
  const countRefusal = () => ctx.metrics.refreshes.inc({ outcome: 'rate_limited' });
  // Per IP passes when its counter is unreachable: on a Cluster that counter may live on another master than the
  // session, and a refresh must not fail for a master it does not need. The per-session counter lives with the
  // session (same slot), so it is unreachable only when the refresh would fail anyway.
  const perIp = new RequestLimit(ctx, 'refresh-ip', ctx.options.rateLimit.refreshPerIp, { countRefusal, whenStoreUnavailable: 'pass' });
  const perSession = new RequestLimit(ctx, 'refresh-session', ctx.options.rateLimit.refreshPerSession, { countRefusal, placement: 'session' });
  return tracedRoute(ctx, 'latchkey.refresh', async (req: AuthRequest, reply: Reply, trace): Promise<AuthResult> => {
    const ip = req.ip ?? '';
    const cookie = readSessionCookie(ctx, req.get('cookie'));
    // Both counted at once, so an outage costs one store deadline, not two.
    const ipTaken = perIp.take(ipKey(ip), { ip });
    if (cookie === null) {
      await ipTaken;
      ctx.metrics.refreshes.inc({ outcome: 'no_session' });
      reply.setCookie(...clearedSessionCookieHeaders(ctx));
      throw new LatchkeyError('no_session');
    }
    await Promise.all([ipTaken, perSession.take(cookie.key, { ip })]);
    const { result, nextSecret } = await rotateCookie(ctx, cookie);
    if ('session' in result) trace.session(result.session);
    if ((result.outcome === 'rotated' || result.outcome === 'replayed') && isTenantRevoked(result.session)) {
      await endRevokedTenantSession(ctx, reply, result.session);
    }

    switch (result.outcome) {
      case 'rotated': {
        const cookie = { generation: result.session.generation, secret: nextSecret };
        // Only the rotating refresh renews at the IdP (one per generation): replays never spend the IdP refresh token twice.
        if (result.session.idp && ctx.idps) await renewAtIdpOrEnd(ctx, reply, result.session, cookie);
        ctx.metrics.refreshes.inc({ outcome: 'rotated' });
        trace.outcome('rotated');
        return sendTokens(ctx, reply, result.session, cookie);
      }
      case 'replayed': {
        const successor = replayedSuccessor(result.sealed, cookie);
        if (successor === null) break;
        ctx.metrics.refreshes.inc({ outcome: 'replayed' });
        trace.outcome('replayed');
        return sendTokens(ctx, reply, result.session, { generation: result.session.generation, secret: successor });
      }
      case 'reuse_detected':
        ctx.metrics.refreshes.inc({ outcome: 'reuse_detected' });
        reportTheft(ctx, req.ip, result.session, cookie, 'refresh');
        reply.setCookie(...clearedSessionCookieHeaders(ctx));
        throw new LatchkeyError('reuse_detected');
      case 'ended': {
        const code = result.reason === null ? 'no_session' : END_REASON_CODE[result.reason];
        ctx.metrics.refreshes.inc({ outcome: code });
        reply.setCookie(...clearedSessionCookieHeaders(ctx));
        throw new LatchkeyError(code);
      }
      case 'mismatch':
        break;
    }
    ctx.metrics.refreshes.inc({ outcome: 'no_session' });
    reply.setCookie(...clearedSessionCookieHeaders(ctx));
    throw new LatchkeyError('no_session');
  });
}

async function sendTokens(ctx: BffContext, reply: Reply, session: DeviceSessionRecord, cookie: { generation: number; secret: string }): Promise<AuthResult> {
  const issued = await issueSessionTokens(ctx, session, cookie);
  return reply.setCookie(...issued.setCookies).send(200, issued.body);
}

/** Whether the guard's view knows the session's tenant was revoked after the session started. */
export type TenantRevocationCheck = (session: DeviceSessionRecord) => boolean;

/**
 * A tenant revocation on Redis ends the tenant's sessions shard by shard, after setting the tenant's marker: a session
 * written by a login that raced the revocation can be missed. Its refresh ends it here (the tenant's `revoked_after`
 * is later than the session's start), so it cannot outlive the revocation by more than the one access token its login
 * got.
 */
async function endRevokedTenantSession(ctx: BffContext, reply: Reply, session: DeviceSessionRecord): Promise<never> {
  await endSessions(
    ctx,
    { key: session.key, reason: 'session_revoked' },
    { event: 'tenant_session_ended', message: 'device session of a revoked tenant ended on refresh', fields: { tenant: session.tenant } },
  );
  ctx.metrics.refreshes.inc({ outcome: 'session_revoked' });
  reply.setCookie(...clearedSessionCookieHeaders(ctx));
  throw new LatchkeyError('session_revoked');
}

/**
 * The IdP half of a refresh for a session the IdP started. The rotation already happened, so when the IdP cannot be
 * reached the rotated cookie still goes out with the 503 (the session is kept, and the client's retry presents the
 * current credential). When the IdP refused the grant the device session ends: 401 `session_revoked`.
 */
async function renewAtIdpOrEnd(ctx: BffContext, reply: Reply, session: DeviceSessionRecord, cookie: { generation: number; secret: string }): Promise<void> {
  let outcome: Awaited<ReturnType<typeof renewAtIdpIfDue>>;
  try {
    outcome = await renewAtIdpIfDue(ctx, session);
  } catch (error) {
    ctx.metrics.refreshes.inc({ outcome: 'idp_unavailable' });
    reply.setCookie(...sessionCookieHeaders(ctx, session, cookie));
    throw error;
  }
  if (outcome === 'recheck_due') {
    await endSessions(
      ctx,
      { key: session.key, reason: 'session_expired' },
      { event: 'oidc_recheck_due', message: 'no refresh token from the identity provider: device session ended for a new sign-in there' },
    );
    ctx.metrics.refreshes.inc({ outcome: 'session_expired' });
    reply.setCookie(...clearedSessionCookieHeaders(ctx));
    throw new LatchkeyError('session_expired');
  }
  if (outcome !== 'revoked_at_idp') return;
  await endSessions(
    ctx,
    { key: session.key, reason: 'session_revoked' },
    { event: 'oidc_grant_revoked', message: 'the identity provider refused the refresh token; device session ended' },
  );
  ctx.metrics.refreshes.inc({ outcome: 'session_revoked' });
  reply.setCookie(...clearedSessionCookieHeaders(ctx));
  throw new LatchkeyError('session_revoked');
}
