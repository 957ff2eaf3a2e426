import type { AuthenticatedUser, IdpClaims } from '../options.js';
import type { AuthenticationStamp } from '../store/types.js';

/** `acr` and each `amr` value: bounded printable text (they ride in every access token). */
const ACR = /^[\x21-\x7E]{1,256}$/;
const AMR = /^[\x21-\x7E]{1,64}$/;
const MAX_AMR = 16;

const validAcr = (value: unknown): value is string => typeof value === 'string' && ACR.test(value);
const validAmr = (value: unknown): value is string[] =>
  Array.isArray(value) && value.length > 0 && value.length <= MAX_AMR && value.every((v) => typeof v === 'string' && AMR.test(v));

/**
 * When and how the user just authenticated, to stamp on the device session (`auth_time`, `acr`, `amr` of its access
 * tokens): what `authenticate` or `mapUser` returned wins (a bad value is the application's bug: TypeError, before
 * anything changes); otherwise, after a password check, `amr: ['pwd']`; after an IdP sign-in, the ID token's `acr`,
 * `amr` (malformed ones are dropped) and `auth_time` (when it lies in the past: the user may have authenticated at the
 * IdP well before this sign-in).
 */
export function authenticationStamp(now: number, user: AuthenticatedUser, idToken?: IdpClaims): Omit<AuthenticationStamp, 'idp'> {
  if (user.acr !== undefined && !validAcr(user.acr)) throw new TypeError('authenticate returned an invalid acr (printable ASCII, at most 256 characters)');
  if (user.amr !== undefined && !validAmr(user.amr)) {
    throw new TypeError(`authenticate returned an invalid amr (1 to ${MAX_AMR} printable ASCII values of at most 64 characters)`);
  }
  const idpAuthTime = typeof idToken?.auth_time === 'number' && Number.isFinite(idToken.auth_time) ? Math.floor(idToken.auth_time * 1000) : undefined;
  const acr = user.acr ?? (idToken && validAcr(idToken.acr) ? idToken.acr : undefined);
  const amr = user.amr ?? (idToken ? (validAmr(idToken.amr) ? idToken.amr : undefined) : ['pwd']);
  return {
    authTime: idpAuthTime !== undefined && idpAuthTime >= 0 && idpAuthTime <= now ? idpAuthTime : now,
    ...(acr !== undefined ? { acr } : {}),
    ...(amr !== undefined ? { amr: [...amr] } : {}),
  };
}
