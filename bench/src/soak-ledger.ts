/**
 * The soak's book of every device session it saw, every token it was given, and every revocation it made, so each
 * answer of /api/me and /auth/refresh can be judged:
 *
 * - a 200 from /api/me for a session that was revoked, on a request sent more than WINDOW ms after the revoking call
 *   returned, is a violation (revoked token accepted after the propagation window);
 * - a 401 `reuse_detected` is a false theft alarm: no simulated device ever presents anything but the newest cookie
 *   it holds (concurrent refreshes and retries after a "lost" response use that same cookie, which the spec says
 *   must not trip theft detection);
 * - a 401 for a live, unexpired token (or on refresh) of a session that nothing had begun to revoke by the time the
 *   answer came back is a false rejection (reported, not part of the exit code).
 *
 * Logout-all and concurrent logins: a session whose login returned before the logout-all was sent is certainly
 * ended by it; one whose login overlapped the logout-all call may or may not be (both outcomes are correct), so it
 * is only "possibly revoked": a 401 is fine, a 200 too.
 *
 * Times are performance.now() of this process (monotonic), except token expiry (epoch ms, same machine clock).
 */
import type { HttpResult, Proc } from './soak-http.js';

export interface TokenRec {
  token: string;
  expMs: number;
}

export interface SessionRec {
  sid: string;
  user: string;
  device: string;
  loginSentAt: number;
  loginDoneAt: number;
  tokens: TokenRec[];
  /** When the call that certainly revoked it was sent and returned. */
  revokeSentAt?: number;
  revokedAt?: number;
  revokedBy?: string;
  /** Sent-time of a revocation that may or may not have caught it (overlapping logout-all, unanswered logout). */
  possibleRevokeSentAt?: number;
}

interface LogoutAll {
  user: string;
  sentAt: number;
  doneAt: number;
}

export interface Violation {
  sid: string;
  user: string;
  kind: string;
  process: string;
  revokedBy: string;
  msAfterRevocation: number;
  tokenExpiresInMs: number;
  /** The same process's first rejection of this session's tokens after this answer (ms after revocation): late, not lost. */
  nextRejectedOnThisProcessMs?: number | null;
  /** Whether the same process had already rejected this session's tokens before this answer (should never be). */
  rejectedBeforeOnThisProcess?: boolean;
  /** The process's largest event-loop delay in the sample window around this answer. */
  processEventLoopLagMaxMs?: number | null;
  /** performance.now() at send, to line the violation up with the samples. */
  tSend: number;
}

interface Suspect {
  sid: string;
  kind: string;
  process: string;
  code: string;
  tRecv: number;
  tokenExpiresInMs?: number;
}

export class Ledger {
  readonly sessions = new Map<string, SessionRec>();
  private readonly logoutAlls: LogoutAll[] = [];
  readonly violations: Violation[] = [];
  readonly falseTheft: Array<{ sid: string; device: string; kind: string; process: string; hadClientTimeout: boolean }> = [];
  private readonly suspects: Suspect[] = [];
  /** `${sid} ${process}` -> send times (ms after revocation) of the 401s after the revocation. */
  private readonly rejections = new Map<string, number[]>();
  /** Requests with a revoked token sent after the window (each must be 401). */
  revokedAfterWindow = 0;
  revokedAfterWindowRejected = 0;
  /** 200s for a revoked token on requests sent within the window (allowed; shows propagation races). */
  acceptedWithinWindow = 0;
  /** The latest send time, ms after the revocation returned, of a request with a revoked token that got a 200. */
  latestAcceptanceMs = 0;
  /** Requests with a revoked token sent within the window. */
  revokedWithinWindow = 0;
  /** 200s whose body named another session than the token's. */
  wrongSubject = 0;
  revocations = { logout: 0, 'logout-all': 0, drain: 0 } as Record<string, number>;
  sessionsRevokedByLogoutAll = 0;
  sessionsPossiblyRevokedByLogoutAll = 0;

  constructor(readonly windowMs: number) {}

  register(s: SessionRec): void {
    this.sessions.set(s.sid, s);
    for (const l of this.logoutAlls) if (l.user === s.user) this.classify(s, l);
  }

  addToken(s: SessionRec, token: string, expMs: number): TokenRec {
    const rec = { token, expMs };
    s.tokens.push(rec);
    const now = Date.now();
    // Keep what can still be probed (plus the newest), so long sessions do not pile up tokens.
    s.tokens = s.tokens.filter((t, i) => t.expMs + 10_000 > now || i === s.tokens.length - 1);
    return rec;
  }

  /** A call that certainly ended the session (logout answered 204, re-login over it). */
  markRevoked(s: SessionRec, sentAt: number, doneAt: number, by: string): void {
    this.revocations[by] = (this.revocations[by] ?? 0) + 1;
    if (s.revokedAt === undefined || doneAt < s.revokedAt) {
      s.revokedAt = doneAt;
      s.revokeSentAt = sentAt;
      s.revokedBy = by;
    }
  }

  markPossiblyRevoked(s: SessionRec, sentAt: number): void {
    if (s.possibleRevokeSentAt === undefined || sentAt < s.possibleRevokeSentAt) s.possibleRevokeSentAt = sentAt;
  }

  /** A logout-all for `user` sent at `sentAt` answered 204 at `doneAt`. Returns the sessions it certainly ended. */
  logoutAll(user: string, sentAt: number, doneAt: number): SessionRec[] {
    const l = { user, sentAt, doneAt };
    this.logoutAlls.push(l);
    this.revocations['logout-all']!++;
    const ended: SessionRec[] = [];
    for (const s of this.sessions.values()) {
      if (s.user !== user) continue;
      if (this.classify(s, l) === 'revoked') ended.push(s);
    }
    return ended;
  }

  private classify(s: SessionRec, l: LogoutAll): 'revoked' | 'possibly' | 'untouched' {
    if (s.loginDoneAt <= l.sentAt) {
      const already = s.revokedAt !== undefined && s.revokedAt <= l.doneAt;
      if (already) return 'untouched';
      s.revokedAt = l.doneAt;
      s.revokeSentAt = l.sentAt;
      s.revokedBy = 'logout-all';
      this.sessionsRevokedByLogoutAll++;
      return 'revoked';
    }
    if (s.loginSentAt < l.doneAt) {
      this.markPossiblyRevoked(s, l.sentAt);
      this.sessionsPossiblyRevokedByLogoutAll++;
      return 'possibly';
    }
    return 'untouched';
  }

  /** Judges one answer of GET /api/me made with `token` of session `s`. */
  observeMe(kind: string, s: SessionRec, token: TokenRec, r: HttpResult, proc: Proc): void {
    const revokedAt = s.revokedAt;
    const afterWindow = revokedAt !== undefined && r.tSend - revokedAt > this.windowMs;
    const withinWindow = revokedAt !== undefined && !afterWindow && r.tSend >= revokedAt;
    if (afterWindow) this.revokedAfterWindow++;
    if (withinWindow) this.revokedWithinWindow++;
    if (r.status === 200) {
      if (revokedAt !== undefined && r.tSend >= revokedAt) this.latestAcceptanceMs = Math.max(this.latestAcceptanceMs, r.tSend - revokedAt);
      if (afterWindow) {
        this.violations.push({
          sid: s.sid,
          user: s.user,
          kind,
          process: proc.name,
          revokedBy: s.revokedBy ?? '?',
          msAfterRevocation: Math.round(r.tSend - revokedAt!),
          tokenExpiresInMs: token.expMs - r.wallSend,
          tSend: r.tSend,
        });
      } else if (withinWindow) {
        this.acceptedWithinWindow++;
      }
      const sid = (r.json as { sid?: string } | undefined)?.sid;
      if (sid !== s.sid) this.wrongSubject++;
    } else if (r.status === 401) {
      if (afterWindow) this.revokedAfterWindowRejected++;
      if (revokedAt !== undefined && r.tSend >= revokedAt) {
        const key = `${s.sid} ${proc.name}`;
        this.rejections.set(key, [...(this.rejections.get(key) ?? []), r.tSend - revokedAt]);
      }
      const left = token.expMs - r.wallSend;
      // 401 on a token that still had a second to live: fine only if a revocation of its session had begun.
      if (left > 1000) this.suspects.push({ sid: s.sid, kind, process: proc.name, code: r.code ?? '', tRecv: r.tRecv, tokenExpiresInMs: left });
    }
  }

  /** Judges a 401 from /auth/refresh. */
  observeRefresh401(kind: string, s: SessionRec, device: string, r: HttpResult, proc: Proc, hadClientTimeout: boolean): void {
    if (r.code === 'reuse_detected') {
      this.falseTheft.push({ sid: s.sid, device, kind, process: proc.name, hadClientTimeout });
      return;
    }
    this.suspects.push({ sid: s.sid, kind, process: proc.name, code: r.code ?? '', tRecv: r.tRecv });
  }

  /** The violations, each with what the same process answered for that session before and after. */
  violationReport(): Violation[] {
    return this.violations.map((v) => {
      const times = this.rejections.get(`${v.sid} ${v.process}`) ?? [];
      const after = times.filter((t) => t > v.msAfterRevocation);
      return {
        ...v,
        nextRejectedOnThisProcessMs: after.length ? Math.round(Math.min(...after)) : null,
        rejectedBeforeOnThisProcess: times.some((t) => t < v.msAfterRevocation),
      };
    });
  }

  /** 401s for sessions that nothing had begun to revoke by the time the answer came back. */
  falseRejections(): Array<Suspect & { user: string; note: string }> {
    const out: Array<Suspect & { user: string; note: string }> = [];
    for (const x of this.suspects) {
      const s = this.sessions.get(x.sid)!;
      const began = Math.min(s.revokeSentAt ?? Infinity, s.possibleRevokeSentAt ?? Infinity);
      if (began <= x.tRecv) continue;
      out.push({ ...x, user: s.user, note: began === Infinity ? 'never revoked' : `revocation began ${Math.round(began - x.tRecv)} ms after this answer` });
    }
    return out;
  }

  /** Forgets sessions that are over and whose tokens have all expired (keeps the book small on long runs). */
  prune(): void {
    const now = Date.now();
    for (const [sid, s] of this.sessions) {
      if (s.revokedAt === undefined && s.possibleRevokeSentAt === undefined) continue;
      if (s.tokens.every((t) => t.expMs + 30_000 < now) && !this.suspects.some((x) => x.sid === sid)) this.sessions.delete(sid);
    }
  }
}
