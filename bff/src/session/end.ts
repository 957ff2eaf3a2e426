import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { DeviceSessionRecord, SessionEndReason } from '../store/types.js';

/** Which sessions to end. Every store call here ends them the same way: sid marked revoked, reason kept, event in the log. */
export type EndTarget =
  /** One session by its private key (logout, a login replacing this browser's session, a refresh that must end it). */
  | { key: string; reason: SessionEndReason }
  /** One of the user's sessions by its public id (device revoke, admin); nothing when it is not that user's. */
  | { userId: string; sid: string; reason: SessionEndReason }
  /** Every session of the user, and the user's `revoked_after` raised to now (logout-all, admin, back-channel by sub). */
  | { allOfUser: string }
  /**
   * Every session of the user but the caller's, in one atomic store operation, no `revoked_after` (logout-others).
   * `no_session` when the kept session is no longer live: nothing ends then.
   */
  | { othersOfUser: string; keepKey: string }
  /** Every session the identity provider's session started (back-channel logout by sid). */
  | { idpIss: string; idpSid: string }
  /** Every session of the tenant, and the tenant's `revoked_after` raised to now. */
  | { tenant: string }
  /** Sessions the store has already ended (the per-user cap, inside createSession): only counted and logged here. */
  | { alreadyEnded: readonly DeviceSessionRecord[] };

export type LogoutScope =
  'device' | 'all' | 'revoke_device' | 'admin_user' | 'admin_device' | 'admin_tenant' | 'admin_all' | 'others' | 'idp_backchannel' | 'evicted';

export interface EndNotice {
  /**
   * `latchkey_logouts_total{scope}`; absent when the caller counts the end in its own metric (a refresh that ends the
   * session counts a refresh outcome).
   */
  scope?: LogoutScope;
  /** `sessions` (default): +1 per ended session; `action`: +1 per call (logout-all and the admin's user revocation). */
  count?: 'sessions' | 'action';
  event: string;
  message: string;
  /**
   * `each` (default): one line per ended session, `{ event, userId, sid, ...fields }`; `summary`: one line per call,
   * ended or not, `{ event, ...fields }`.
   */
  log?: 'each' | 'summary';
  fields?: Record<string, unknown> | ((ended: readonly DeviceSessionRecord[]) => Record<string, unknown>);
}

async function endInStore(ctx: BffContext, target: EndTarget): Promise<readonly DeviceSessionRecord[]> {
  const { store, markerTtlMs } = ctx;
  const now = ctx.now();
  if ('alreadyEnded' in target) return target.alreadyEnded;
  if ('key' in target) return present(await store.endSession(target.key, target.reason, now, markerTtlMs));
  if ('sid' in target) return present(await store.endUserSessionBySid(target.userId, target.sid, target.reason, now, markerTtlMs));
  if ('allOfUser' in target) return store.endAllUserSessions(target.allOfUser, now, now, markerTtlMs);
  if ('othersOfUser' in target) {
    const ended = await store.endOtherUserSessions(target.othersOfUser, target.keepKey, now, markerTtlMs);
    if (ended === null) throw new LatchkeyError('no_session');
    return ended;
  }
  if ('idpSid' in target) return store.endSessionsByIdpSid(target.idpIss, target.idpSid, 'session_revoked', now, markerTtlMs);
  return store.revokeTenant(target.tenant, now, now, markerTtlMs);
}

const present = (ended: DeviceSessionRecord | null): DeviceSessionRecord[] => (ended === null ? [] : [ended]);

/**
 * Ends device sessions: the store call, the count and the log line, in one place for every way a session ends
 * (logout, device revoke, logout-all, logout-others, the admin operations, a refresh that must end its session, the per-user cap and
 * the back-channel logout). Returns the sessions that ended (none when they were not live).
 */
export async function endSessions(ctx: BffContext, target: EndTarget, notice: EndNotice): Promise<readonly DeviceSessionRecord[]> {
  const ended = await endInStore(ctx, target);
  if (ended.length > 0) ctx.sessionsEnded?.(ended);
  if (notice.scope !== undefined) {
    const by = notice.count === 'action' ? 1 : ended.length;
    if (by > 0) ctx.metrics.logouts.inc({ scope: notice.scope }, by);
  }
  const fields = typeof notice.fields === 'function' ? notice.fields(ended) : (notice.fields ?? {});
  if (notice.log === 'summary') {
    ctx.logger.info({ event: notice.event, ...fields }, notice.message);
  } else {
    for (const session of ended) ctx.logger.info({ event: notice.event, userId: session.userId, sid: session.sid, ...fields }, notice.message);
  }
  return ended;
}
