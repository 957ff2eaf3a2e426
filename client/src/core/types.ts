import type { SessionEnvironment } from './environment.js';
import type { SessionError } from './session-error.js';
import type { LoginRequest, PublicSession, PublicUser, SessionEventName, SessionListEntry, SignOutReason } from '@latchkey/shared';

/** What the server rendered with: `bff.getSession(req)`'s answer (its `claims` are not used here), or null. */
export interface InitialSession {
  readonly user: PublicUser;
  readonly session: PublicSession;
}

export type SessionStatus = 'loading' | 'authenticated' | 'unauthenticated';

/** What the UI renders. Frozen, and the same object until something in it changes. */
export interface SessionSnapshot {
  readonly status: SessionStatus;
  readonly user: PublicUser | null;
  readonly session: PublicSession | null;
  /** The BFF could not be reached (network error or 5xx); the user stays signed in while we retry. */
  readonly unreachable: boolean;
  /** Why the last session ended; null while signed in or when there never was a session. */
  readonly signOutReason: SignOutReason | null;
  /**
   * A configuration error: the BFF refuses this page's requests (`code` 'csrf_rejected', a 403: its origin is not in the
   * BFF's `origins.allowed`, or a proxy drops the `X-CSRF` header). Retrying cannot help; cleared by the next sign-in.
   */
  readonly error: SessionError | null;
}

export interface SessionClientOptions {
  /** Where the BFF router is mounted: a path on this origin ('/auth', the default) or an absolute URL. */
  bffUrl?: string;
  /** Origins (scheme://host[:port]) allowed to receive the access token. Default: none. */
  apiOrigins?: readonly string[];
  /** Refresh this long before the token expires (capped at half the token's lifetime). Default 60 s. */
  refreshMarginMs?: number;
  /** fetch to use for BFF calls; defaults to the global fetch. The seam for tests. */
  fetch?: typeof fetch;
  /** Name of the BroadcastChannel shared by the tabs; the Web Lock is named after it. Default 'latchkey'. */
  channelName?: string;
  /** Exponential backoff bounds for retrying an unreachable BFF. Defaults 1 s and 60 s. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** How long a starting tab waits for another tab to hand over a token. Default 150 ms. */
  handoverWaitMs?: number;
  /** Abort a BFF request after this long, so a hung refresh cannot hold the cross-tab lock. Default 15 s. */
  requestTimeoutMs?: number;
  /**
   * Where the client hears of the network coming back, the page being shown again, and user input (activity for the
   * BFF's idle timeout). Default: the browser's window and document events. Tests and non-browser hosts pass their own.
   */
  environment?: SessionEnvironment;
}

export type ResolvedSessionClientOptions = Readonly<
  Required<Omit<SessionClientOptions, 'fetch' | 'apiOrigins'>> & {
    fetch: typeof fetch | undefined;
    apiOrigins: readonly string[];
  }
>;

/** Lifecycle events, keyed by the protocol's SessionEventName. */
export interface SessionEventMap extends Record<SessionEventName, object> {
  signed_in: { user: PublicUser; session: PublicSession };
  refreshed: { user: PublicUser; session: PublicSession };
  signed_out: { reason: SignOutReason };
  theft_detected: { reason: 'reuse_detected' };
  /**
   * Step-up (RFC 9470): an API refused the token for an authentication too old (`maxAge`, seconds) or too weak
   * (`acrValues`, space-separated, as its challenge named them). Re-authenticate (`reauthenticate({ password })`, or
   * `signIn({ reauth: 1 })` for a session from an identity provider) and retry: the session is kept.
   */
  reauthentication_required: { maxAge?: number; acrValues?: string };
}

export interface SessionClient {
  readonly options: ResolvedSessionClientOptions;
  subscribe(listener: () => void): () => void;
  getSnapshot(): SessionSnapshot;
  /** A valid access token, refreshed first when close to expiry; null when signed out. */
  getAccessToken(): Promise<string | null>;
  /**
   * Refresh now (single flight, one per browser). Pass the token an API rejected: if another caller or tab
   * has already replaced it, the fresh token is returned without a network call.
   */
  refresh(rejectedToken?: string | null): Promise<string | null>;
  login(credentials: LoginRequest): Promise<void>;
  /**
   * Step-up: the password again, for this device session (`POST /reauthenticate`). The session stays the same; its next
   * tokens carry a fresh `auth_time`. Rejects with `invalid_credentials` for a wrong password.
   */
  reauthenticate(credentials: { password: string }): Promise<void>;
  /**
   * For the axios adapters: an API answered 401 with this `WWW-Authenticate` challenge naming
   * `insufficient_user_authentication`. Emits `reauthentication_required` and returns the SessionError to reject with.
   */
  stepUpRequired(challenge: string): SessionError;
  /**
   * Sign-in through one of the BFF's identity providers (`oidc` option): navigates this tab to `<bffUrl>/oidc/login`.
   * After the provider, the browser comes back to `returnTo` (a path or URL on this site; default: the current page)
   * signed in, or with `?auth_error=<code>` when the sign-in was cancelled or failed.
   */
  signIn(options?: SignInOptions): void;
  /**
   * Ends this device's session, in every tab. Signs out locally even when the BFF cannot be reached (and rethrows).
   * For a session from an identity provider with RP-initiated logout configured, then navigates to the IdP's end-session page.
   */
  logout(): Promise<void>;
  /** Ends every session of the user, on every device. */
  logoutAll(): Promise<void>;
  /** Ends every other session of the user (each other device is signed out); this one stays signed in. */
  logoutOthers(): Promise<void>;
  listSessions(): Promise<SessionListEntry[]>;
  /** Revokes one device session; revoking the current one is a logout. */
  revokeSession(id: string): Promise<void>;
  /** Signs out here and in every tab without calling the BFF, which already ended the session (`@latchkey/client/live`). */
  end(reason: SignOutReason): void;
  /**
   * Starts from the session the server rendered with (`bff.getSession`: `{ user, session }`, or null when signed out),
   * so the first render is already settled and `start()` sends no request: the access token is fetched on the first
   * `getAccessToken()`. Applied only while the status is still `loading`. Returns the client to render with: in the
   * browser this one; on the server (no `document`), where one client may serve every request, a view of it whose
   * snapshot is this initial session, the client itself left untouched. `<SessionProvider initialSession>` calls it.
   */
  hydrate(initial: InitialSession | null): SessionClient;
  on<E extends keyof SessionEventMap>(event: E, listener: (detail: SessionEventMap[E]) => void): () => void;
  /** Restores the session and starts listening to other tabs and to the network. Idempotent. */
  start(): void;
  /** Stops timers and listeners. start() may be called again (React StrictMode does). */
  destroy(): void;
}

/** `signIn()`'s options. */
export interface SignInOptions {
  returnTo?: string;
  /** The provider's name in the BFF's `oidc.providers`; default: its default provider. */
  provider?: string;
  /** Shown in the device list, as `login({ deviceName })` (1..100 characters). */
  deviceName?: string;
  /** Step-up: `1` re-authenticates this device session at the identity provider (`prompt=login`) instead of signing in anew. */
  reauth?: 1;
  /** With `reauth`: the `acr_values` a step-up challenge named (space-separated). */
  acr_values?: string;
}
