import { z } from 'zod';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRequest, AuthResult, AuthRoute, Reply } from '../http/exchange.js';
import { ipKey, RequestLimit } from '../http/rate-limit.js';
import { IDP_REFUSED, renewAtIdpIfDue } from '../oidc/renew-at-idp.js';
import { tracedRoute } from '../observability/tracing-route.js';
import { clearedSessionCookieHeaders, readSessionCookie, sessionCookieHeaders } from '../session/cookie.js';
import { endReasonCode, endSessions, type EndNotice } from '../session/end.js';
import { replayedSuccessor, reportExpiry, reportTheft, rotateCookie } from '../session/rotate.js';
import { withValidatedClaims } from '../session/validate.js';
import { issueSessionTokens } from '../session/token-response.js';
import type { DeviceSessionRecord } from '../store/types.js';

/** The optional body of POST /refresh (COMMON activity contract): seconds since the last real use any tab saw. */
function refreshBodySchema(absoluteTimeoutSeconds: number) {
  return z.strictObject({ idleSeconds: z.number().int().min(0).max(absoluteTimeoutSeconds).optional() });
}

/** What the schema makes of `{}`: no body at all (the body parser's `{}`) is the usual refresh, so it skips the parse. */
const NO_BODY: { success: true; data: { idleSeconds?: number } } = Object.freeze({ success: true, data: Object.freeze({}) });

/** Why a refresh ends its session (for the store, the count and the log), besides the rotation's own outcomes. */
const VALIDATE_REFUSED: EndNotice = {
  reason: 'validate_refused',
  event: 'session_validation_refused',
  message: 'validateSession refused the session; device session ended',
};
const TENANT_REVOKED: EndNotice = {
  reason: 'tenant_revoked',
  event: 'tenant_session_ended',
  message: 'device session of a revoked tenant ended on refresh',
};
const IDP_RECHECK: EndNotice = {
  reason: 'idp_recheck',
  event: 'oidc_recheck_due',
  message: 'no refresh token from the identity provider: device session ended for a new sign-in there',
};

const isEmptyPlainObject = (body: unknown): boolean =>
  typeof body === 'object' && body !== null && Object.getPrototypeOf(body) === Object.prototype && Object.keys(body).length === 0;

/**
 * POST /refresh. Rotates the device session's credential (atomic in the store) and answers with a new access token.
 * - current credential: rotate to the successor generated here;
 * - previous credential within the grace window, successor not yet used: answer with that same successor (concurrent
 *   tabs, a retry after a lost response), unsealed with the presented credential;
 * - any older credential: theft. The store has already revoked the session and its access tokens.
 *
 * The optional body `{ idleSeconds }` says how long ago the page last saw real use (input, the application's API
 * calls; never timers): the session's activity moves to now - idleSeconds (never backwards), and the idle timeout counts
 * from it, so a tab whose timer keeps refreshing an unused page still reaches its idle end (ASVS 7.3.1). No body: used
 * now (older clients). A session past its idle or absolute end ends here: 401 `session_expired`.
 *
 * With `validateSession`, the session is checked against the account (cached per session): refused, it ends (401
 * `session_revoked`); kept, its answer's claims and scope go into the new token; a failing hook is 503.
 *
 * Rate limited per client IP and per device session (429 with Retry-After, which the client retries and never
 * treats as a sign-out); the cookie and the session are left as they are.
 */
export function createRefreshRoute(ctx: BffContext, isTenantRevoked: TenantRevocationCheck = () => false): AuthRoute {
  const countRefusal = () => ctx.metrics.refreshes.inc({ outcome: 'rate_limited' });
  // Per IP passes when its counter is unreachable: on a Cluster that counter may live on another master than the
  // session, and a refresh must not fail for a master it does not need. The per-session counter lives with the
  // session (same slot), so it is unreachable only when the refresh would fail anyway.
  const perIp = new RequestLimit(ctx, 'refresh-ip', ctx.options.rateLimit.refresh.perIp, { countRefusal, whenStoreUnavailable: 'pass' });
  const perSession = new RequestLimit(ctx, 'refresh-session', ctx.options.rateLimit.refresh.perSession, { countRefusal, placement: 'session' });
  const bodySchema = refreshBodySchema(ctx.options.session.absoluteTimeoutSeconds);
  return tracedRoute(ctx, 'latchkey.refresh', async (req: AuthRequest, reply: Reply, trace): Promise<AuthResult> => {
    // Before anything is counted or rotated: a malformed body changes nothing.
    const body = isEmptyPlainObject(req.body) ? NO_BODY : bodySchema.safeParse(req.body);
    if (!body.success) {
      ctx.metrics.refreshes.inc({ outcome: 'invalid_request' });
      throw new LatchkeyError('invalid_request', 'The refresh body must be empty or { "idleSeconds": <integer from 0 to the absolute lifetime> }.');
    }
    const ip = req.ip ?? '';
    const cookie = readSessionCookie(ctx, req.get('cookie'));
    // Both counted at once, so an outage costs one store deadline, not two.
    const ipTaken = perIp.take(ipKey(ip), { ip });
    if (cookie === null) {
      await ipTaken;
      refuse(ctx, reply, 'no_session');
    }
    await Promise.all([ipTaken, perSession.take(cookie.key, { ip })]);
    const { result, nextSecret } = await rotateCookie(ctx, cookie, ctx.now() - (body.data.idleSeconds ?? 0) * 1000);
    if ('session' in result) trace.session(result.session);
    if ((result.outcome === 'rotated' || result.outcome === 'replayed') && isTenantRevoked(result.session)) {
      await endRevokedTenantSession(ctx, reply, result.session);
    }

    switch (result.outcome) {
      case 'rotated': {
        const cookie = { generation: result.session.generation, secret: nextSecret };
        // Only the rotating refresh renews at the IdP (one per generation): replays never spend the IdP refresh token twice.
        if (result.session.idp && ctx.idps) await renewAtIdpOrEnd(ctx, reply, result.session, cookie);
        const session = await validateOrEnd(ctx, reply, result.session, cookie);
        ctx.metrics.refreshes.inc({ outcome: 'rotated' });
        trace.outcome('rotated');
        return sendTokens(ctx, reply, session, cookie);
      }
      case 'replayed': {
        const successor = replayedSuccessor(result.sealed, cookie);
        if (successor === null) break;
        const replayed = { generation: result.session.generation, secret: successor };
        const session = await validateOrEnd(ctx, reply, result.session, replayed);
        ctx.metrics.refreshes.inc({ outcome: 'replayed' });
        trace.outcome('replayed');
        return sendTokens(ctx, reply, session, replayed);
      }
      case 'reuse_detected':
        await reportTheft(ctx, req.ip, result.session, cookie, 'refresh');
        return refuse(ctx, reply, 'reuse_detected');
      case 'expired':
        await reportExpiry(ctx, result.session, result.reason, 'refresh');
        return refuse(ctx, reply, 'session_expired');
      case 'ended':
        return refuse(ctx, reply, endReasonCode(result.reason));
      case 'mismatch':
        break;
    }
    return refuse(ctx, reply, 'no_session');
  });
}

/**
 * `validateSession` for a session this refresh keeps: the session as its new token must carry it. Refused: the session
 * ends (401 `session_revoked`, its revocation event). The hook failing keeps the session and its new cookie (sent with
 * the 503, so the client's retry presents the current credential).
 */
async function validateOrEnd(
  ctx: BffContext,
  reply: Reply,
  session: DeviceSessionRecord,
  cookie: { generation: number; secret: string },
): Promise<DeviceSessionRecord> {
  const { validator } = ctx;
  if (!validator) return session;
  const validation = await keepingCookie(ctx, reply, session, cookie, 'validate_unavailable', () => validator.validate(session));
  if (!validation.refused) return withValidatedClaims(session, validation);
  return endAndRefuse(ctx, reply, session, VALIDATE_REFUSED, 'session_revoked');
}

async function sendTokens(ctx: BffContext, reply: Reply, session: DeviceSessionRecord, cookie: { generation: number; secret: string }): Promise<AuthResult> {
  const issued = await issueSessionTokens(ctx, session, cookie);
  return reply.setCookie(...issued.setCookies).send(200, issued.body);
}

/**
 * A dependency of the refresh (`validateSession`, the IdP) failing after the rotation: the session is kept and its
 * rotated cookie goes out with the error (503), so the client's retry presents the current credential.
 */
async function keepingCookie<T>(
  ctx: BffContext,
  reply: Reply,
  session: DeviceSessionRecord,
  cookie: { generation: number; secret: string },
  outcome: 'validate_unavailable' | 'idp_unavailable',
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    ctx.metrics.refreshes.inc({ outcome });
    reply.setCookie(...sessionCookieHeaders(ctx, session, cookie));
    throw error;
  }
}

/** The 401s a refresh answers when it leaves no session: counted by that code, the cookie cleared. */
type RefusalCode = 'no_session' | 'session_expired' | 'session_revoked' | 'reuse_detected';

function refuse(ctx: BffContext, reply: Reply, code: RefusalCode): never {
  ctx.metrics.refreshes.inc({ outcome: code });
  reply.setCookie(...clearedSessionCookieHeaders(ctx));
  throw new LatchkeyError(code);
}

/** Ends the session this refresh found (`notice`: why, for the store, the count and the log), then refuses. */
async function endAndRefuse(ctx: BffContext, reply: Reply, session: DeviceSessionRecord, notice: EndNotice, code: RefusalCode): Promise<never> {
  await endSessions(ctx, { key: session.key }, notice);
  return refuse(ctx, reply, code);
}

/** Whether the guard's view knows the session's tenant was revoked after the session started. */
export type TenantRevocationCheck = (session: DeviceSessionRecord) => boolean;

/**
 * A tenant revocation on Redis ends the tenant's sessions shard by shard, after setting the tenant's marker: a session
 * written by a login that raced the revocation can be missed. Its refresh ends it here (the tenant's `revoked_after`
 * is later than the session's start), so it cannot outlive the revocation by more than the one access token its login
 * got.
 */
function endRevokedTenantSession(ctx: BffContext, reply: Reply, session: DeviceSessionRecord): Promise<never> {
  return endAndRefuse(ctx, reply, session, { ...TENANT_REVOKED, fields: { tenant: session.tenant } }, 'session_revoked');
}

/**
 * The IdP half of a refresh for a session the IdP started. The rotation already happened, so when the IdP cannot be
 * reached the rotated cookie still goes out with the 503 (the session is kept, and the client's retry presents the
 * current credential). When the IdP refused the grant the device session ends: 401 `session_revoked`.
 */
async function renewAtIdpOrEnd(ctx: BffContext, reply: Reply, session: DeviceSessionRecord, cookie: { generation: number; secret: string }): Promise<void> {
  const outcome = await keepingCookie(ctx, reply, session, cookie, 'idp_unavailable', () => renewAtIdpIfDue(ctx, session));
  if (outcome === 'recheck_due') await endAndRefuse(ctx, reply, session, IDP_RECHECK, 'session_expired');
  if (outcome === 'revoked_at_idp') await endAndRefuse(ctx, reply, session, IDP_REFUSED, 'session_revoked');
}
