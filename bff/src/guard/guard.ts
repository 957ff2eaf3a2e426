import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { AccessTokenClaims } from '@latchkey/shared';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { SigningAlgorithm } from '../keys/signing-key.js';
import type { BffMetrics } from '../observability/metrics.js';
import { StoreUnavailableError, type RevocationState, type SessionStore } from '../store/types.js';
import { verifyAccessToken } from '../tokens/verify-access-token.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Claims of the verified, unrevoked access token; set by `requireAuth()`. */
      auth?: AccessTokenClaims;
    }
  }
}

export interface GuardOptions {
  store: SessionStore;
  keyRing: KeyRing;
  issuer: string;
  audience: string | readonly string[];
  algorithms: readonly SigningAlgorithm[];
  clockSkewSeconds: number;
  maxTokenBytes: number;
  metrics: BffMetrics;
  logger: Logger;
  now?: () => number;
  /** At most one key-ring reload per this many ms when tokens name an unknown kid (a flood of bogus kids costs one read). */
  unknownKidCooldownMs?: number;
}

export type GuardDecision =
  | { outcome: 'valid'; claims: AccessTokenClaims }
  | { outcome: 'expired' | 'revoked' | 'invalid' };

const BEARER = /^Bearer ([^\s]+)$/;

/** True when any of the three revocation facts covers this token. `revoked_after` is compared in whole seconds (iat's resolution). */
export function isRevoked(claims: AccessTokenClaims, state: RevocationState): boolean {
  if (state.jtiRevoked || state.sidRevoked) return true;
  return state.userRevokedAfter !== null && claims.iat < Math.floor(state.userRevokedAfter / 1000);
}

/**
 * The resource-server guard: verifies the access token against the shared key ring, then checks the jti deny list,
 * the session's revocation and the user's `revoked_after` in the store. Fail-closed: when the store cannot answer,
 * the request gets 503, never a pass.
 */
export function createGuard(options: GuardOptions) {
  const now = options.now ?? Date.now;
  const cooldownMs = options.unknownKidCooldownMs ?? 1000;
  let lastUnknownKidReload = 0;

  const verify = (token: string) =>
    verifyAccessToken(token, {
      keyRing: options.keyRing,
      issuer: options.issuer,
      audience: options.audience,
      algorithms: options.algorithms,
      clockSkewSeconds: options.clockSkewSeconds,
      maxTokenBytes: options.maxTokenBytes,
      nowMs: now(),
    });

  /** Decides one token. Throws StoreUnavailableError when the store cannot answer. */
  async function check(token: string): Promise<GuardDecision> {
    let verified = await verify(token);
    if (!verified.ok && verified.reason === 'unknown_key' && now() - lastUnknownKidReload >= cooldownMs) {
      // Another instance may have rotated keys since this one loaded the ring.
      lastUnknownKidReload = now();
      const ring = await options.store.getKeyRing();
      await options.keyRing.syncTo(ring?.version ?? null);
      verified = await verify(token);
    }
    if (!verified.ok) return { outcome: verified.reason === 'expired' ? 'expired' : 'invalid' };

    const { claims } = verified;
    const state = await options.store.getRevocationState(claims.jti, claims.sid, claims.sub);
    if (state.keyRingVersion !== null && state.keyRingVersion !== options.keyRing.version) {
      // The ring changed (possibly an emergency rotation that dropped this token's key): verify again against it.
      await options.keyRing.syncTo(state.keyRingVersion);
      const again = await verify(token);
      if (!again.ok) return { outcome: again.reason === 'expired' ? 'expired' : 'invalid' };
    }
    if (isRevoked(claims, state)) return { outcome: 'revoked' };
    return { outcome: 'valid', claims };
  }

  function unauthorized(withError: boolean): LatchkeyError {
    return new LatchkeyError('invalid_token', undefined, {
      headers: { 'WWW-Authenticate': withError ? 'Bearer error="invalid_token"' : 'Bearer' },
    });
  }

  /** Express middleware: 401 for a missing, invalid, expired or revoked token; 503 when the store is unreachable. */
  function requireAuth(): RequestHandler {
    return async (req, _res, next) => {
      const header = req.headers.authorization;
      if (header === undefined) {
        options.metrics.authDecisions.inc({ outcome: 'missing' });
        return next(unauthorized(false));
      }
      // Size cap before any parsing: "Bearer " + the longest token we accept.
      const match = header.length <= options.maxTokenBytes + 7 ? BEARER.exec(header) : null;
      if (!match) {
        options.metrics.authDecisions.inc({ outcome: 'invalid' });
        return next(unauthorized(true));
      }
      let decision: GuardDecision;
      try {
        decision = await check(match[1]!);
      } catch (error) {
        if (error instanceof StoreUnavailableError) {
          options.metrics.authDecisions.inc({ outcome: 'store_unavailable' });
          return next(new LatchkeyError('temporarily_unavailable', undefined, { cause: error }));
        }
        return next(error);
      }
      options.metrics.authDecisions.inc({ outcome: decision.outcome });
      if (decision.outcome !== 'valid') return next(unauthorized(true));
      req.auth = decision.claims;
      next();
    };
  }

  return { check, requireAuth };
}

export type Guard = ReturnType<typeof createGuard>;
