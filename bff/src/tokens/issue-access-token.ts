import { ACCESS_TOKEN_TYP } from '@latchkey/shared';
import { randomToken } from '../crypto/random.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { signCompactJws } from './sign-jws.js';

export interface IssueAccessTokenInput {
  keyRing: KeyRing;
  issuer: string;
  audience: string | readonly string[];
  clientId: string;
  userId: string;
  sid: string;
  ttlSeconds: number;
  /** The token never outlives its device session. */
  notAfterMs: number;
  nowMs: number;
  /** The session's granted claims and `scope`, validated at login; registered claims are set after them and win. */
  claims?: Readonly<Record<string, unknown>>;
  /** A token the guard would refuse as oversized is never issued. */
  maxTokenBytes: number;
  /** When and how the user last authenticated on the session (`authenticationOf`): `auth_time`, `acr`, `amr`. */
  authentication?: AuthenticationClaims;
}

/** The OIDC claims (RFC 9068 section 2.2.1, RFC 9470) that say when and how the user authenticated. */
export interface AuthenticationClaims {
  /** Seconds since the epoch. */
  auth_time: number;
  acr?: string;
  amr?: readonly string[];
}

/** A device session's authentication, as its access tokens carry it (a session stored before it was kept: its sign-in). */
export function authenticationOf(session: DeviceSessionRecord): AuthenticationClaims {
  return {
    auth_time: Math.floor((session.authTime ?? session.createdAt) / 1000),
    ...(session.acr !== undefined ? { acr: session.acr } : {}),
    ...(session.amr !== undefined ? { amr: session.amr } : {}),
  };
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/**
 * Signs an RFC 9068 access token with the ring's active key. Claims are minimal: no personal data beyond `sub`, plus
 * what the application granted at login.
 */
export async function issueAccessToken(input: IssueAccessTokenInput): Promise<IssuedAccessToken> {
  const key = input.keyRing.activeKey();
  const iat = Math.floor(input.nowMs / 1000);
  const exp = Math.min(iat + input.ttlSeconds, Math.floor(input.notAfterMs / 1000));
  const jti = randomToken(16);
  if (!Number.isFinite(iat) || !Number.isFinite(exp)) throw new TypeError('the access token needs finite iat and exp');
  // The application's claims first: Latchkey's own (authentication, sid, client_id and the registered ones) win.
  const token = signCompactJws(
    { alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP },
    {
      ...input.claims,
      ...input.authentication,
      sid: input.sid,
      client_id: input.clientId,
      iss: input.issuer,
      sub: input.userId,
      aud: input.audience,
      jti,
      iat,
      exp,
    },
    key,
  );
  if (token.length > input.maxTokenBytes) {
    throw new Error(`the access token would be ${token.length} bytes, over tokens.maxBytes (${input.maxTokenBytes}): grant fewer claims`);
  }
  return { token, jti, expiresAt: exp * 1000 };
}
