import type { TokenResponse } from '@latchkey/shared';

/** A token response as this browser keeps it: expiry in the local clock, and when to refresh. */
export interface HeldToken extends TokenResponse {
  /** Local-clock time after which getAccessToken refreshes first: `expiresAt` less the refresh margin (capped at half the lifetime). */
  refreshAt: number;
}

/**
 * Moves the expiry into the local clock using the BFF's Date header, so a browser whose clock is off by
 * minutes neither uses expired tokens nor refreshes in a loop. The margin is capped at half the lifetime
 * so short-lived tokens never look stale on arrival.
 */
export function holdToken(response: TokenResponse, serverNow: number, refreshMarginMs: number): HeldToken {
  const lifetime = response.expiresAt - serverNow;
  const expiresAt = Date.now() + lifetime;
  return {
    ...response,
    expiresAt,
    refreshAt: expiresAt - Math.min(refreshMarginMs, lifetime / 2),
  };
}
