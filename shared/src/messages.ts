/** Request and response bodies of the BFF routes (SPEC section 4). */

export interface LoginRequest {
  username: string;
  password: string;
  deviceName?: string;
}

export interface PublicUser {
  id: string;
  name: string;
}

export interface PublicSession {
  id: string;
  deviceName: string;
  createdAt: number;
}

export interface TokenResponse {
  accessToken: string;
  tokenType: 'Bearer';
  /** Epoch milliseconds. */
  expiresAt: number;
  user: PublicUser;
  session: PublicSession;
}

/** GET /session: the signed-in user and device session, no token (proxy mode's source of truth). */
export interface CurrentSessionResponse {
  user: PublicUser;
  session: PublicSession;
}

export interface SessionListEntry {
  id: string;
  deviceName: string;
  userAgent: string;
  createdAt: number;
  lastActiveAt: number;
  current: boolean;
}

export interface SessionListResponse {
  sessions: SessionListEntry[];
}

export interface JwksResponse {
  keys: Array<Record<string, unknown>>;
}

/**
 * POST /logout answers 204 for a password session. For a session from an identity provider with RP-initiated logout
 * configured it answers 200 with the URL the browser should navigate to: the BFF's GET /oidc/logout, which redirects
 * to the provider's end-session endpoint (the ID token hint is added there, never given to the page).
 */
export interface LogoutRedirectResponse {
  redirectTo: string;
}

/**
 * POST /introspect (RFC 7662 §2.2): `{ active: false }` for any token that is not a valid, unrevoked access token of
 * this deployment; otherwise its claims.
 */
export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      token_type: 'Bearer';
      /** Space-separated scopes; absent when the token carries none. */
      scope?: string;
      client_id: string;
      sub: string;
      exp: number;
      iat: number;
      nbf?: number;
      iss: string;
      aud: string | string[];
      jti: string;
      sid: string;
      /** The token's tenant, for clients configured with `includeTenant`. */
      tenant?: string;
    };
