import type { Request } from 'express';
import type { BffAdmin } from '../../admin.js';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import type { Guard } from '../../guard/guard.js';
import type { AdminActionResult } from './admin-action.js';
import { parseInput, revokeTokenBody } from './admin-input.js';
import { boundTenant, outsideTenant } from './tenant-bound.js';

/**
 * POST /tokens/revoke with `{ token }` or `{ jti, exp? }`: puts one access token on the deny list until it expires.
 * A token is verified first (signature, issuer, audience) by the guard: a forged token must not name a jti to deny,
 * and an expired or already revoked one needs nothing. The answer says which (`result`). A tenant-bound admin revokes
 * only tokens of its tenant, so it must present the token itself (a bare jti says nothing about whose it is).
 */
export function revokeToken(admin: BffAdmin, guard: Guard, maxTokenBytes: number) {
  const schema = revokeTokenBody(maxTokenBytes);
  return async (req: Request): Promise<AdminActionResult> => {
    const body = parseInput(schema, req.body, 'token revocation');
    const tenant = boundTenant(req);
    if ('jti' in body) {
      if (tenant !== undefined) throw outsideTenant('A tenant-bound admin token revokes a token by the token itself (its tenant is checked), not by jti.');
      await admin.revokeAccessToken(body.jti, body.exp);
      return { status: 200, body: { result: 'revoked' }, audit: { jti: body.jti, result: 'revoked' } };
    }
    const decision = await guard.check(body.token);
    if (decision.outcome === 'invalid') throw new LatchkeyError('invalid_request', 'The token is not a valid access token of this deployment.');
    if (decision.outcome !== 'valid') {
      const result = decision.outcome === 'expired' ? 'expired' : 'already_revoked';
      return { status: 200, body: { result }, audit: { result } };
    }
    if (tenant !== undefined && decision.claims.tenant !== tenant) throw outsideTenant();
    await admin.revokeAccessToken(decision.claims);
    return { status: 200, body: { result: 'revoked' }, audit: { jti: decision.claims.jti, sub: decision.claims.sub, result: 'revoked' } };
  };
}
