import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { sessionEndedReasonOf } from '@latchkey/shared';
import type { DeviceSessionRecord, SessionEndReason } from '../store/types.js';

/** Which sessions to end. Every store call here ends them the same way: sid marked revoked, reason kept, event in the log. */
export type EndTarget =
  /** One session by its private key (logout, a login replacing this browser's session, a refresh that must end it). */
  | { key: string }
  /** One of the user's sessions by its public id (device revoke, admin); nothing when it is not that user's. */
  | { userId: string; sid: string }
  /** Every session of the user, and the user's `revoked_after` raised to now (logout-all, admin, back-channel by sub). */
  | { allOfUser: string }
  /**
   * Every session of the user but the caller's, in one atomic store operation, no `revoked_after` (logout-others; the
   * store's reason is `logout_others`). `no_session` when the kept session is no longer live: nothing ends then.
   */
  | { othersOfUser: string; keepKey: string }
  /** Every session the identity provider's session started (back-channel logout by sid). */
  | { idpIss: string; idpSid: string }
  /** Every session of the tenant, and the tenant's `revoked_after` raised to now (the store's reason is `tenant_revoked`). */
  | { tenant: string }
  /** Sessions the store has already ended (the per-user cap, an expiry or a theft found by a rotation): only counted and logged here. */
  | { alreadyEnded: readonly DeviceSessionRecord[] };

export interface EndNotice {
  /**
   * Why (the shared vocabulary): what the store remembers for the session's cookie and writes into its revocation event,
   * and the `reason` label of `latchkey_logouts_total`, which counts every session that ended (+1 each).
   */
  reason: SessionEndReason;
  event: string;
  message: string;
  /**
   * `each` (default): one line per ended session, `{ event, userId, sid, ...fields }`; `summary`: one line per call,
   * ended or not, `{ event, ...fields }`.
   */
  log?: 'each' | 'summary';
  /** Log level (default `info`; a theft is `warn`). */
  level?: 'info' | 'warn';
  fields?: Record<string, unknown> | ((ended: readonly DeviceSessionRecord[]) => Record<string, unknown>);
}

async function endInStore(ctx: BffContext, target: EndTarget, reason: SessionEndReason): Promise<readonly DeviceSessionRecord[]> {
  const { store, markerTtlMs } = ctx;
  const now = ctx.now();
  if ('alreadyEnded' in target) return target.alreadyEnded;
  if ('key' in target) return present(await store.endSession(target.key, reason, now, markerTtlMs));
  if ('sid' in target) return present(await store.endUserSessionBySid(target.userId, target.sid, reason, now, markerTtlMs));
  if ('allOfUser' in target) return store.endAllUserSessions(target.allOfUser, reason, now, now, markerTtlMs);
  if ('othersOfUser' in target) {
    const ended = await store.endOtherUserSessions(target.othersOfUser, target.keepKey, now, markerTtlMs);
    if (ended === null) throw new LatchkeyError('no_session');
    return ended;
  }
  if ('idpSid' in target) return store.endSessionsByIdpSid(target.idpIss, target.idpSid, reason, now, markerTtlMs);
  return store.revokeTenant(target.tenant, now, now, markerTtlMs);
}

const present = (ended: DeviceSessionRecord | null): DeviceSessionRecord[] => (ended === null ? [] : [ended]);

/**
 * Ends device sessions: the store call, the count and the log line, in one place for every way the BFF ends a session
 * (logout, device revoke, logout-all, logout-others, the admin operations, a refresh that must end its session, an
 * expiry or a theft a rotation found, the per-user cap and the back-channel logout). Returns the sessions that ended
 * (none when they were not live).
 */
export async function endSessions(ctx: BffContext, target: EndTarget, notice: EndNotice): Promise<readonly DeviceSessionRecord[]> {
  const ended = await endInStore(ctx, target, notice.reason);
  if (ended.length > 0) {
    ctx.sessionsEnded?.(ended);
    ctx.metrics.logouts.inc({ reason: notice.reason }, ended.length);
  }
  const fields = typeof notice.fields === 'function' ? notice.fields(ended) : (notice.fields ?? {});
  const log = notice.level === 'warn' ? ctx.logger.warn.bind(ctx.logger) : ctx.logger.info.bind(ctx.logger);
  if (notice.log === 'summary') {
    log({ event: notice.event, ...fields }, notice.message);
  } else {
    for (const session of ended) log({ event: notice.event, userId: session.userId, sid: session.sid, ...fields }, notice.message);
  }
  return ended;
}

/** The 401 code a refresh (or a cookie-authenticated call) answers for a session that ended for this reason. */
export function endReasonCode(reason: SessionEndReason | null): 'no_session' | 'session_expired' | 'session_revoked' | 'reuse_detected' {
  const said = reason === null ? 'logout' : sessionEndedReasonOf(reason);
  // The browser's own sign-out (or a sign-in that replaced the session): nothing to report, just no session.
  if (said === 'logout') return 'no_session';
  return said === 'logout_all' ? 'session_revoked' : said;
}
