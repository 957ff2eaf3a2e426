import { ERROR_CODES, type ErrorCode } from '@latchkey/shared';
import { LatchkeyError } from '../../bff/src/errors/latchkey-error.js';
import { RETRY_AFTER_SECONDS as STREAM_RETRY_AFTER } from '../../bff/src/events/event-streams.js';
import { IDP_RETRY_AFTER_SECONDS } from '../../bff/src/oidc/idp-client.js';
import { linkPaths, table } from './markdown.js';

/**
 * When the BFF answers each code. Typed by the closed set in `@latchkey/shared`: a code added there fails the type
 * check until it is described here. The status and the default headers come from the BFF's error table
 * (`bff/src/errors/latchkey-error.ts`), never from this text.
 */
export const ERROR_WHEN: Readonly<Record<ErrorCode, string>> = {
  invalid_request:
    'a malformed body, parameter or path (bad JSON, a missing, wrong or, on the admin routes, unknown field), a `returnTo` that leaves the site, two client authentication methods or a repeated parameter at `/introspect` and `/revoke`, a back-channel logout token that does not verify, `GET /oidc/logout` without a valid logout handle',
  unsupported_media_type: 'a body that is not JSON in UTF-8 (on `/introspect` and `/revoke`: not form-encoded in UTF-8), or a compressed one',
  payload_too_large:
    "a body over its route's cap (8 KB on the cookie routes; `tokens.maxBytes` + 1 KB on the admin routes, + 4 KB on `/introspect` and `/revoke`), or more than 16 form parameters",
  invalid_credentials: '`POST /login` with a wrong password or an unknown user (the same answer for both)',
  invalid_client: "a resource client's authentication at `/introspect` or `/revoke` missing or failed",
  rate_limited:
    'a `rateLimit` counter is over its limit; `Retry-After` says when its window frees a slot. A 429 on refresh never signs anyone out (docs/security.md)',
  too_many_connections: `\`GET /events\` over \`eventStreams.maxPerUser\` or \`maxPerDevice\` (\`Retry-After: ${STREAM_RETRY_AFTER}\`)`,
  csrf_rejected:
    'a cookie route without `X-CSRF: 1` or with an `Origin` not allowed (checked before the route is looked up: an unknown path under the router is 403 without the header), a sign-in start that is no same-site top-level navigation, a browser request to `/introspect` or `/revoke`',
  no_session:
    'refresh, `GET /session`, a `bff.proxy` call, logout-all, the session list or a stream without a session cookie, or with one that names no live session (this device logged out, a bad signature)',
  session_expired: 'the device session reached its idle or absolute end',
  session_revoked:
    'the device session was ended by something other than this device\'s own logout: logout-all, "revoke device", the admin API, the per-user session cap, a back-channel logout, the IdP refusing a renewal',
  reuse_detected: 'a superseded refresh credential was presented: the device session is ended for every holder (theft detection)',
  invalid_token:
    'the guard: a missing, malformed, oversized, forged, expired or revoked access token (`WWW-Authenticate: Bearer`, with `error="invalid_token"` when a token was sent)',
  insufficient_scope:
    'a valid token without a scope the route requires (`requireAuth({ scopes })`, the admin router), or a tenant-bound admin token outside its tenant; `WWW-Authenticate` names the scopes',
  insufficient_user_authentication:
    "step-up (RFC 9470): a valid token whose `auth_time` is older than the route's `maxAuthAgeSeconds` (`requireAuth`, `bff.verify`, `bff.proxy`, the admin router, logout-all and logout-others when configured) or whose `acr` is not in its `acrValues`; `WWW-Authenticate` carries `max_age` / `acr_values`. The page re-authenticates (`POST /reauthenticate` or the IdP) and retries; the session is kept. `POST /reauthenticate` with a wrong password answers `invalid_credentials`",
  not_found:
    "an unknown path or method (on the cookie routes only after the `X-CSRF` check), `DELETE /sessions/:id` for a session that is not the caller's, `/introspect` and `/revoke` without `resourceClients`, an admin target that does not exist",
  oidc_login_failed:
    "the IdP's callback did not complete a sign-in (state, nonce, code or `iss` mismatch, an ID token not signed by the IdP, an error from the IdP, no login transaction, `mapUser` refused); nothing is stored",
  temporarily_unavailable: `the store or a login counter cannot answer (1 s deadline), a fail-closed guard's revocation view is stale, the IdP cannot be reached (\`Retry-After: ${IDP_RETRY_AFTER_SECONDS}\`), the process's event-stream cap or a closing BFF (\`Retry-After: ${STREAM_RETRY_AFTER}\`). Never signs anyone out`,
  upstream_unavailable:
    '`bff.proxy`: the upstream API refused the connection, reset it, answered something that is not HTTP, or a `token` function failed. Never signs anyone out (docs/proxy.md)',
  upstream_timeout: "`bff.proxy`: the upstream API did not answer within the proxy's `timeoutMs`. Never signs anyone out (docs/proxy.md)",
  internal_error: 'anything unexpected (a bug, a grant `authenticate` returned that Latchkey refuses); the message is generic and the error is logged',
};

/** code, HTTP status, the headers every answer with the code carries, when. */
export function errorTable(intoFile: string): string {
  return table(
    ['code', 'status', 'default headers', 'when'],
    ERROR_CODES.map((code) => {
      const error = new LatchkeyError(code);
      const headers = Object.entries(error.headers).map(([name, value]) => `\`${name}: ${value}\``);
      return [`\`${code}\``, String(error.status), headers.join(', ') || '', linkPaths(ERROR_WHEN[code], intoFile)];
    }),
  );
}
