import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { ResolvedResourceClient } from '../options.js';
import type { ClientAuthLimit } from './client-auth-limit.js';
import type { AuthRequest, AuthResult, Reply, RequestView } from './exchange.js';
import type { FormParameters } from './form-body.js';

/** A configured client: its id, the SHA-256 of its secret (base64url), and which tokens it may see. */
export type ResourceClient = ResolvedResourceClient;

/** How the client authenticated (RFC 6749 §2.3.1). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

const BASIC = /^Basic ([A-Za-z0-9+/]+={0,2})$/i;
/** Longest Authorization header considered: id and secret, form-encoded (x3), in base64 (x4/3), with room. */
const MAX_AUTHORIZATION = 8192;

/**
 * The form-urlencoding of RFC 6749 §2.3.1 (Appendix B) undone: `+` is a space, then percent-decoding as UTF-8.
 * Null for a malformed escape. By hand: neither URLSearchParams (which keeps a bad escape as text) nor
 * decodeURIComponent alone (which keeps `+`) is that decoding.
 */
function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/** `Authorization: Basic base64(formEncode(id) ":" formEncode(secret))`, or null when the header is not that. */
function parseBasic(header: string): { id: string; secret: string } | null {
  const match = header.length <= MAX_AUTHORIZATION ? BASIC.exec(header) : null;
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return id === null || secret === null ? null : { id, secret };
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** An OAuth endpoint once its caller is known: the parsed form and the authenticated client. */
export type ClientRoute = (req: AuthRequest, reply: Reply, form: FormParameters, client: ResourceClient) => Promise<AuthResult>;

/** Authenticates the resource client of one request (its form body already parsed): the client, or a thrown 401 or 429. */
export type ClientAuthenticator = (req: RequestView, body: FormParameters) => Promise<ResourceClient>;

/**
 * Authenticates a resource client (client_secret_basic or client_secret_post; exactly one per request, RFC 6749
 * §2.3) against the configured clients. Secrets are compared as SHA-256 digests with timingSafeEqual: equal
 * lengths whatever was sent, and an unknown id costs the same comparison as a known one. Failures answer 401
 * `invalid_client` with `WWW-Authenticate: Basic` (RFC 6749 §5.2) and log the claimed id only, never a secret.
 * Every attempt goes through `limit` (see client-auth-limit.ts): past a bound, 429 `rate_limited`, whatever the secret.
 * Runs after the form body parser (client_secret_post reads the body).
 */
export function createClientAuthenticator(clients: readonly ResourceClient[], logger: Logger, limit: ClientAuthLimit): ClientAuthenticator {
  const byId = new Map(clients.map((c) => [c.id, { client: c, hash: Buffer.from(c.secretHash, 'base64url') }]));
  const unknownClient = digest('latchkey: no such client');
  return async (req, body) => {
    const header = req.get('authorization');
    const posted = body.client_id !== undefined || body.client_secret !== undefined;
    if (header !== undefined && posted) throw new LatchkeyError('invalid_request', 'Use one client authentication method, not several.', { oauthBody: true });
    let method: ClientAuthMethod;
    let presented: { id: string; secret: string } | null;
    if (header !== undefined) {
      method = 'client_secret_basic';
      presented = parseBasic(header);
    } else {
      method = 'client_secret_post';
      presented = typeof body.client_id === 'string' && typeof body.client_secret === 'string' ? { id: body.client_id, secret: body.client_secret } : null;
    }
    const expected = presented === null ? undefined : byId.get(presented.id);
    const equal = presented !== null && timingSafeEqual(digest(presented.secret), expected?.hash ?? unknownClient);
    const authenticated = expected !== undefined && equal;
    const attempted = header !== undefined || posted;
    // Per client id only for configured ids: an unknown id has no secret to find.
    if (attempted) await limit.check(req.ip ?? '', expected?.client.id ?? null, authenticated);
    if (!authenticated) {
      if (attempted) {
        logger.warn(
          { event: 'client_auth_failed', method, clientId: presented?.id.slice(0, 64), path: req.path, ip: req.ip },
          'resource client authentication failed',
        );
      }
      throw new LatchkeyError('invalid_client', undefined, { oauthBody: true });
    }
    return expected.client;
  };
}
