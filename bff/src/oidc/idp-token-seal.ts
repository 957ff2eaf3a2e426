import type { BffContext } from '../context.js';
import { seal, unsealWithAny } from '../crypto/seal.js';

/** Each kind of IdP token is sealed under its own derived key, so one cannot be opened as the other. */
export type IdpTokenKind = 'refresh_token' | 'id_token' | 'access_token';

const info = (kind: IdpTokenKind) => `latchkey idp ${kind} v1`;

/** Seals an IdP token for the store (AES-256-GCM, key derived by HKDF from the newest secret). */
export function sealIdpToken(ctx: BffContext, kind: IdpTokenKind, token: string): string {
  return seal(token, ctx.options.secrets[0]!, info(kind));
}

/** Opens it under any configured secret (secret rotation); null when none fits or it was altered. */
export function unsealIdpToken(ctx: BffContext, kind: IdpTokenKind, sealed: string): string | null {
  return unsealWithAny(sealed, ctx.options.secrets, info(kind));
}
