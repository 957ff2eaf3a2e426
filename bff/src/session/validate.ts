import { LRUCache } from 'lru-cache';
import type { PublicUser } from '@latchkey/shared';
import type { Logger } from 'pino';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { resolveGrantedClaims, scopesOf, type GrantedClaims } from '../tokens/custom-claims.js';

/** What `validateSession` is shown of a device session: public handles and what it was granted, never its key or credential. */
export interface ValidatedSession {
  /** The public id (the `sid` claim). */
  id: string;
  deviceName: string;
  createdAt: number;
  /** The last real activity (what the idle timeout counts from). */
  lastActivityAt: number;
  /** The claims and `scope` its tokens carry now (`{}` when none). */
  claims: Readonly<Record<string, unknown>>;
  tenant?: string;
  /** The identity provider's issuer and subject, for a session an OpenID Connect sign-in started. */
  idp?: { iss: string; sub: string };
}

/**
 * The application's answer for a live session (ASVS 7.4.2: sessions follow the account): `false` ends it (401
 * `session_revoked`); `true` keeps it as it is; `{ claims?, scope? }` keeps it, and its next access tokens carry these
 * (each one given replaces the session's current value; the size caps of `authenticate` apply; the tenant stays).
 */
export type ValidateSessionResult = boolean | Pick<GrantedClaims, 'claims' | 'scope'>;

export type ValidateSession = (user: PublicUser, session: ValidatedSession) => ValidateSessionResult | Promise<ValidateSessionResult>;

/** The verdict for one session: refused, or kept with the claims its next tokens carry. */
export type Validation = { refused: true } | { refused: false; claims: Readonly<Record<string, unknown>> | undefined };

export interface ValidatorDeps {
  hook: ValidateSession;
  now: () => number;
  logger: Logger;
  /** `session.validateCacheSeconds`. */
  cacheSeconds: number;
  /** The cap on the claims and scope, as for `authenticate`. */
  maxClaimsBytes: number;
}

/** Sessions whose verdict is remembered at most; bounded whatever the traffic. */
const MAX_ENTRIES = 10_000;

/**
 * Calls the application's `validateSession` for a session, at most once per `session.validateCacheSeconds` per session
 * (a kept verdict is remembered that long, on the BFF's clock; a refusal is not remembered, the session ends with it).
 * So a disabled account or a changed role takes effect within that bound, without an admin call.
 */
export class SessionValidator {
  private readonly cache = new LRUCache<string, { validation: Validation & { refused: false }; until: number }>({ max: MAX_ENTRIES });
  private readonly cacheMs: number;

  constructor(private readonly deps: ValidatorDeps) {
    this.cacheMs = deps.cacheSeconds * 1000;
  }

  /**
   * The verdict for this live session. A hook that throws, or answers something that is not a verdict, is 503
   * `temporarily_unavailable` (never a sign-out), logged with ids only: the error's own message may carry anything.
   */
  async validate(session: DeviceSessionRecord): Promise<Validation> {
    const now = this.deps.now();
    const hit = this.cache.get(session.sid);
    if (hit !== undefined && hit.until > now) return hit.validation;
    let validation: Validation;
    try {
      validation = this.verdict(session, await this.deps.hook({ id: session.userId, name: session.userName }, view(session)));
    } catch (error) {
      this.deps.logger.error(
        { event: 'validate_session_failed', userId: session.userId, sid: session.sid, error: error instanceof Error ? error.name : typeof error },
        'validateSession failed; the session is kept and the request answered 503',
      );
      // No cause: the error handler would log it, message and stack included.
      throw new LatchkeyError('temporarily_unavailable');
    }
    if (validation.refused) this.cache.delete(session.sid);
    else if (this.cacheMs > 0) this.cache.set(session.sid, { validation, until: now + this.cacheMs });
    return validation;
  }

  private verdict(session: DeviceSessionRecord, answer: unknown): Validation {
    if (answer === false) return { refused: true };
    if (answer === true) return { refused: false, claims: session.claims };
    if (typeof answer !== 'object' || answer === null || Array.isArray(answer))
      throw new TypeError('validateSession must answer a boolean or { claims?, scope? }');
    const { claims, scope, ...rest } = answer as Pick<GrantedClaims, 'claims' | 'scope'>;
    if (Object.keys(rest).length > 0) throw new TypeError('validateSession may answer only claims and scope');
    const current = session.claims ?? {};
    const { scope: currentScope, tenant: _tenant, ...currentCustom } = current;
    const granted = resolveGrantedClaims(
      {
        claims: (claims ?? currentCustom) as GrantedClaims['claims'],
        scope: scope ?? [...scopesOf(currentScope)],
        ...(session.tenant !== undefined ? { tenant: session.tenant } : {}),
      },
      this.deps.maxClaimsBytes,
    );
    return { refused: false, claims: granted };
  }
}

function view(session: DeviceSessionRecord): ValidatedSession {
  return {
    id: session.sid,
    deviceName: session.deviceName,
    createdAt: session.createdAt,
    lastActivityAt: session.lastActivityAt,
    claims: session.claims ?? {},
    ...(session.tenant !== undefined ? { tenant: session.tenant } : {}),
    ...(session.idp ? { idp: { iss: session.idp.iss, sub: session.idp.sub } } : {}),
  };
}

/** The session as its next tokens see it: with the claims a validation answered (none when it answered none). */
export function withValidatedClaims(session: DeviceSessionRecord, validation: Validation & { refused: false }): DeviceSessionRecord {
  if (validation.claims === session.claims) return session;
  const { claims: _previous, ...rest } = session;
  return validation.claims === undefined ? rest : { ...rest, claims: validation.claims };
}
