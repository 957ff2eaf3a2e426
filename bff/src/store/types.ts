import type { SessionEndReason } from '@latchkey/shared';
import type { RateLimitCounter, RateLimitCounterOptions } from './rate-limit-counter.js';
import type { ReadRevocationsOptions, RevocationBatch } from './revocation-feed.js';

/**
 * The one store interface behind the BFF and the guard: device sessions, their
 * rotating refresh credential, revocation markers and the shared key ring.
 *
 * Every implementation (memory, Redis) runs the same contract suite
 * (`bff/test/store/contract.ts`). Times are epoch milliseconds passed in by the
 * caller, so the store holds no clock policy of its own; every entry a store
 * writes expires, on the store's clock (the MemoryStore's `clock` option; Redis's
 * own for the Redis store; see docs/time.md).
 */

/**
 * Why a device session ended (the vocabulary of `@latchkey/shared`); remembered (until the session would have idled out)
 * so an old cookie gets the right answer, and written into the sid event of the revocation log.
 */
export type { SessionEndReason };

export interface DeviceSessionRecord {
  /** Private id. Travels only inside the signed HttpOnly cookie; never shown to JavaScript. */
  key: string;
  /** Public handle: `session.id`, the `sid` claim, the session list. */
  sid: string;
  userId: string;
  userName: string;
  deviceName: string;
  userAgent: string;
  createdAt: number;
  /** When the credential last rotated (or the session started): what proxy mode's sliding rotation counts from. */
  rotatedAt: number;
  /**
   * The last real use of the session (user input or the application's API calls, as the client reports it with a
   * refresh; a proxied call): what the idle timeout counts from, never moved by a rotation alone.
   */
  lastActivityAt: number;
  /** `lastActivityAt` + the idle timeout, never past `absoluteExpiresAt`. */
  idleExpiresAt: number;
  absoluteExpiresAt: number;
  /** Generation of the current refresh credential; starts at 0, +1 on each rotation. */
  generation: number;
  /** SHA-256 (base64url) of the current generation's secret. */
  credentialHash: string;
  /** Hash of generation - 1, kept so a concurrent or retried refresh with it can be answered. */
  previousHash: string | null;
  /** The current secret sealed under the previous one (AES-GCM), so a replay gets the same successor. */
  successorSealed: string | null;
  /** Replays of the previous generation are answered until then; afterwards they are theft. */
  graceUntil: number;
  /**
   * The application's claims and `scope` granted at login (validated, size-bounded JSON values), put into every
   * access token of this session so a refresh re-issues them. Absent when none were granted.
   */
  claims?: Readonly<Record<string, unknown>>;
  /** The user's tenant, when the application gave one (its `tenant` claim too): `revokeTenant` ends the session. */
  tenant?: string;
  /** Set when the session was started by an upstream OpenID Connect provider (`oidc` option); absent otherwise. */
  idp?: IdpLink;
  /**
   * When the user last proved who they are on this device session (epoch ms): the sign-in, then each
   * re-authentication (`POST /reauthenticate`, an IdP re-login). The `auth_time` of its access tokens. Absent in a
   * session stored before it was kept: its `createdAt` stands in.
   */
  authTime?: number;
  /** How strongly (`acr`, from the IdP's ID token or `authenticate`), absent when nobody said. */
  acr?: string;
  /** How (`amr`: `['pwd']` for a password, the IdP's or `authenticate`'s values otherwise). */
  amr?: readonly string[];
  /**
   * The username a password login gave `authenticate` (not the display name): what `POST /reauthenticate` checks the
   * password of. Absent for IdP sessions (they re-authenticate at the IdP).
   */
  loginName?: string;
}

/** A re-authentication's stamp on a live device session (store.restampSession). */
export interface AuthenticationStamp {
  authTime: number;
  /** Absent: the session keeps no acr (a re-authentication that says nothing about strength drops the old one). */
  acr?: string;
  amr?: readonly string[];
  /** An IdP re-login's fresh tokens, for a session the IdP started. */
  idp?: IdpTokenUpdate;
}

/**
 * What ties a device session to the identity provider's session. The IdP tokens never leave the server and are kept
 * sealed (AES-256-GCM under a key derived from the BFF's secrets), so the store alone cannot use them.
 */
export interface IdpLink {
  /** The IdP's issuer and subject (`iss`, `sub` of its ID token). */
  iss: string;
  sub: string;
  /** The IdP's session id (`sid` of the ID token), what a back-channel logout names; null when the IdP sends none. */
  sid: string | null;
  /** The IdP refresh token, sealed; null when the IdP issued none (then the session is never renewed at the IdP). */
  refreshTokenSealed: string | null;
  /** The latest ID token, sealed: the `id_token_hint` of an RP-initiated logout. */
  idTokenSealed: string | null;
  /**
   * The IdP access token, sealed: what `bff.proxy({ token: 'idp' })` attaches upstream. Absent or null in sessions
   * stored before it was kept (the proxy then renews first) or when the IdP sent none.
   */
  accessTokenSealed?: string | null;
  /** When the IdP access token expires (epoch ms): a Latchkey refresh past it renews at the IdP first. */
  accessExpiresAt: number;
}

/** What an IdP refresh changes in a session's IdpLink. */
export type IdpTokenUpdate = Pick<IdpLink, 'refreshTokenSealed' | 'idTokenSealed' | 'accessTokenSealed' | 'accessExpiresAt'>;

/** What `claimIdpRenewal` asks for: the right to renew a session's IdP tokens, for a short lease. */
export interface IdpRenewalClaimInput {
  /** A random id of this attempt: only its holder releases the claim. */
  holder: string;
  /** The link's `accessExpiresAt` the caller saw: the claim is refused as `changed` when it moved (someone renewed). */
  seenAccessExpiresAt: number;
  now: number;
  /** How long the claim holds if its holder never writes or releases it (a crash): longer than one IdP request. */
  leaseMs: number;
}

/**
 * `claimed`: the caller renews now, and its `updateIdpTokens` or `releaseIdpRenewal` ends the claim; `busy`: another
 * caller holds an unexpired claim; `changed`: the link's `accessExpiresAt` is not the one seen (renewed meanwhile:
 * read the session again); `gone`: no live session with an IdP link under this key.
 */
export type IdpRenewalClaim = 'claimed' | 'busy' | 'changed' | 'gone';

export interface RotateInput {
  key: string;
  /** Generation and hash of the credential presented in the cookie. */
  generation: number;
  credentialHash: string;
  /** Hash and sealed form of the successor the caller generated, used only if this call rotates. */
  nextCredentialHash: string;
  nextSealed: string;
  now: number;
  /**
   * The latest real activity the caller knows of (at most `now`). The session keeps the later of it and its recorded
   * `lastActivityAt`, and its idle end follows that (never a rotation alone).
   */
  activityAt: number;
  idleTimeoutMs: number;
  /**
   * How long the superseded credential may be replayed: `graceUntil` is at least `now + graceMs`, counted from when
   * the store really applies the rotation (Redis: its own clock, so a script that reaches a paused Redis late still
   * leaves the client its window).
   */
  graceMs: number;
  /** How long the sid revocation marker lives when reuse revokes the session (access-token lifetime + skew). */
  markerTtlMs: number;
}

export interface CreateSessionOptions extends Partial<SessionLimits> {
  /** Lifetime of the `session` log event: the sid markers' lifetime (the log's one trimming rule). 0 or absent: no event. */
  logTtlMs?: number;
}

export type RotateResult =
  /** The presented credential was current: the session moved to the caller's successor. */
  | { outcome: 'rotated'; session: DeviceSessionRecord }
  /** The presented credential was the previous one, within grace, successor unused: answer with the same successor. */
  | { outcome: 'replayed'; session: DeviceSessionRecord; sealed: string }
  /** A superseded credential: the store has ended the session (reason `reuse_detected`) and marked its sid revoked. */
  | { outcome: 'reuse_detected'; session: DeviceSessionRecord }
  /**
   * The session was past its idle or absolute end (as of `now`): the store has ended it now (that reason, sid marked
   * revoked, its event in the log), so the caller only counts and logs it.
   */
  | { outcome: 'expired'; reason: 'idle' | 'absolute'; session: DeviceSessionRecord }
  /** The session is gone; `reason` when the store remembers why, otherwise null (never existed, or forgotten). */
  | { outcome: 'ended'; reason: SessionEndReason | null }
  /** Same generation, different secret: not ours. Changes nothing. */
  | { outcome: 'mismatch' };

/** The per-user cap `createSession` enforces. */
export interface SessionLimits {
  /**
   * At most this many live sessions per user. Creating one more ends others (reason `cap_evicted`, sid marked
   * revoked, its event in the log) in the same atomic operation: first those never refreshed since their login
   * (generation 0: a sign-in nobody came back to, such as one forced on the user by another site), then the least
   * recently active, so a flood of new sign-ins cannot push out the devices in use.
   */
  maxSessionsPerUser: number;
  now: number;
  /** How long the sid marker of an evicted session lives (access-token lifetime + skew). */
  markerTtlMs: number;
}

export interface SessionStore {
  /**
   * Stores a new device session (and indexes it under its user). With `logTtlMs` (> 0; pass the sid markers'
   * lifetime), the same atomic operation appends a `session` event to the log, so event streams can tell the user's
   * other devices (see revocation-feed.ts). With `maxSessionsPerUser` (and `now`, `markerTtlMs`), it first ends the
   * user's never-refreshed sessions (generation 0), then the least recently active (by `lastActivityAt`, then
   * `createdAt`), so that at most that many stay live.
   * Returns the sessions it ended that way.
   */
  createSession(session: DeviceSessionRecord, options?: CreateSessionOptions): Promise<DeviceSessionRecord[]>;

  /** The live session with this private key, or null when missing or past its idle or absolute end (as of `now`). */
  getSession(key: string, now: number): Promise<DeviceSessionRecord | null>;

  /** Atomic rotation; see RotateResult. A session past its idle or absolute end is ended here and answers `expired`. */
  rotate(input: RotateInput): Promise<RotateResult>;

  /**
   * Every live session of the user (expired ones are pruned), oldest first; with `limit`, only the `limit` newest
   * (a user indexed with more sessions than the cap, from before it applied, still gets a bounded answer).
   */
  listUserSessions(userId: string, now: number, limit?: number): Promise<DeviceSessionRecord[]>;

  /**
   * Ends one session by private key: deletes it, remembers `reason` for its cookie,
   * marks its sid revoked for `markerTtlMs`. Returns the ended record, or null when it was not live.
   */
  endSession(key: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord | null>;

  /** Like endSession, addressed by public sid and scoped to a user: null when the sid is not one of that user's live sessions. */
  endUserSessionBySid(userId: string, sid: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord | null>;

  /**
   * Atomically ends every live session of the user (with `reason`), marks each sid revoked,
   * and sets the user's `revoked_after` to `revokedAfter` (never moving it backwards). Returns the ended sessions.
   */
  endAllUserSessions(userId: string, reason: SessionEndReason, revokedAfter: number, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]>;

  /**
   * Atomically ends every live session of the user except the one keyed `keepKey` (the caller's device: logout-others),
   * each like endSession (reason `logout_others`, sid marked revoked for `markerTtlMs`, its event in the log). No
   * `revoked_after` is set: the kept session's tokens stay valid. Answers null, and changes nothing, when `keepKey` is not
   * a live session of `userId` (it ended meanwhile); otherwise the ended sessions, oldest first.
   */
  endOtherUserSessions(userId: string, keepKey: string, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[] | null>;

  /**
   * Incident response (admin.revokeAllSessions): raises the global `revoked_after` to `revokedAfter` (never lowering it;
   * for `markerTtlMs`, with its `all` event in the log; every access token issued before it, whoever's, is then refused),
   * then ends every live session of every user (reason `all_revoked`, sid marked revoked, like endSession). Returns how
   * many it ended. Atomic in one process; on Redis the marker is written first, then each shard ends its sessions in
   * bounded batches (each atomic), so Redis is never blocked for long: a session that refreshes between the marker and
   * its batch still ends, its new tokens with it (sid marker). Sessions created after the call began are left alone.
   */
  revokeAllSessions(revokedAfter: number, now: number, markerTtlMs: number): Promise<number>;

  /**
   * Revokes a tenant: raises the tenant's `revoked_after` to `revokedAfter` (never lowering it; for `markerTtlMs`, with
   * its `tenant` event in the log, when markerTtlMs > 0), then ends every live session whose `tenant` it is (reason
   * `tenant_revoked`, sid marked revoked, like endSession). Returns the ended sessions. Atomic in one process; on
   * Redis the marker is written first, then each shard ends its share atomically.
   */
  revokeTenant(tenant: string, revokedAfter: number, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]>;

  /**
   * Ends every live session linked to the IdP session (`idp.iss`, `idp.sid`): an OIDC back-channel logout.
   * Each ended like endSession (sid marked revoked, reason remembered, event in the revocation log). Returns them.
   */
  endSessionsByIdpSid(iss: string, idpSid: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]>;

  /**
   * Re-authentication without a new session: replaces the live session's `authTime`, `acr` and `amr` (and, with
   * `stamp.idp`, its IdP token fields) in one atomic operation. Addressed by public sid, scoped to a user (the OIDC
   * callback knows only those). Returns the updated record, or null (changing nothing) when the sid is not one of that
   * user's live sessions.
   */
  restampSession(userId: string, sid: string, stamp: AuthenticationStamp, now: number): Promise<DeviceSessionRecord | null>;

  /**
   * Replaces the IdP token fields of a live OIDC session (after a refresh at the IdP) and ends any renewal claim on it.
   * False when it is gone.
   */
  updateIdpTokens(key: string, update: IdpTokenUpdate, now: number): Promise<boolean>;

  /**
   * Compare-and-set on the session's IdP link, so exactly one caller across every instance spends the IdP refresh
   * token: claims the renewal only when the link's `accessExpiresAt` is still the one the caller saw and no other
   * claim is live (see IdpRenewalClaim). Atomic.
   */
  claimIdpRenewal(key: string, claim: IdpRenewalClaimInput): Promise<IdpRenewalClaim>;

  /** Ends the renewal claim of `holder` (a renewal that failed), so the next caller may try at once. No-op otherwise. */
  releaseIdpRenewal(key: string, holder: string): Promise<void>;

  /**
   * Records `id` for `ttlMs` and answers true, or answers false when it is already recorded: one-time use
   * (the `jti` of a back-channel logout token).
   */
  useOnce(id: string, ttlMs: number): Promise<boolean>;

  /** Adds a jti to the deny list until `ttlMs` from now. */
  revokeJti(jti: string, ttlMs: number): Promise<void>;

  /**
   * The revocation log (see revocation-feed.ts): events after `after` (null: from the oldest live one), waiting
   * up to `blockMs` when there are none. Guards build their local view from it.
   */
  readRevocations(after: string | null, options: ReadRevocationsOptions): Promise<RevocationBatch>;

  /** The sealed key ring and its version, or null when none was ever saved. */
  getKeyRing(): Promise<{ version: string; sealed: string } | null>;

  /**
   * Replaces the key ring only if its version is still `expectedVersion` (null: only if none exists).
   * Returns false when another instance won the race; the caller reloads and retries.
   */
  putKeyRing(expectedVersion: string | null, next: { version: string; sealed: string }): Promise<boolean>;

  /**
   * Rate-limit counters in this backend (rate-limiter-flexible), so login and refresh limits hold across instances.
   * Optional: without it the BFF counts in process memory (RateLimiterMemory).
   */
  createRateLimitCounter?(options: RateLimitCounterOptions): RateLimitCounter;

  /**
   * An express-session store on this backend for the OIDC login transaction (state, nonce, PKCE verifier), so the
   * callback can land on any instance. Every entry expires. Optional: without it the BFF uses express-session's
   * per-process MemoryStore (and warns).
   */
  createLoginTransactionStore?(prefix: string): TransactionSessionStore;

  /** Releases connections. The store is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * The login transaction's express-session store, typed by its shape so that an application's types never depend on
 * express-session or its `@types` (express-session would type `req.session` in every consumer's app, where it does not
 * exist). Implementations extend express-session's `Store`; the BFF hands them to express-session inside.
 */
export interface TransactionSessionStore {
  get(sid: string, callback: (error: unknown, session?: unknown) => void): void;
  set(sid: string, session: never, callback?: (error?: unknown) => void): void;
  destroy(sid: string, callback?: (error?: unknown) => void): void;
}

/** Raised by a store when its backend cannot answer (connection refused, timeout). Converted to 503 at the edge. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
