/** Access-token header type (RFC 9068). */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** Claims every Latchkey access token carries; a token missing any of them is rejected. */
export const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'sid', 'jti', 'iat', 'exp', 'client_id'] as const;

export type RequiredClaim = (typeof REQUIRED_CLAIMS)[number];

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  /** Public handle of the device session the token belongs to. */
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  nbf?: number;
  client_id: string;
  /** Space-separated scopes (RFC 9068), when the application granted any. */
  scope?: string;
  /** The user's tenant, when the application gave one: a tenant-wide revocation rejects the tenant's older tokens. */
  tenant?: string;
  /** When the user last authenticated on this device session (seconds since the epoch; sign-in or re-authentication). */
  auth_time?: number;
  /** How strongly (authentication context class), when the IdP or `authenticate` said. */
  acr?: string;
  /** How (authentication methods, RFC 8176: `pwd`, `otp`, `mfa`, ...), when known. */
  amr?: string[];
}
