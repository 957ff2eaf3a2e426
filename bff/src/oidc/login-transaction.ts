import { serialize } from 'cookie';
import signature from 'cookie-signature';
import type { BffContext } from '../context.js';
import { randomToken } from '../crypto/random.js';
import type { ResolvedOidcOptions } from '../options.js';
import { readCookie } from '../session/cookie.js';
import type { AuthenticationRequest } from './reauthentication.js';
import type { ReplacedSession } from './replaced-session.js';
import { TransactionEntries } from './transaction-entries.js';

/** What one sign-in at the IdP needs to remember between the redirect and the callback. */
export interface LoginTransaction {
  /** The provider it was started with: only its callback path and its token endpoint complete it. Absent in transactions begun before there were several (the default provider). */
  provider?: string;
  state: string;
  /** OpenID Connect only (a plain OAuth 2.0 provider issues no ID token). */
  nonce?: string;
  codeVerifier: string;
  returnTo: string;
  /** The device name the page typed (`?deviceName=`), for the device list. */
  deviceName?: string;
  /** The session this browser held at `/oidc/login` (its cookie was current): the callback ends it. */
  replaces?: ReplacedSession;
  /** What authentication was asked for (max_age, a re-authentication): see reauthentication.ts. */
  authentication?: AuthenticationRequest;
}

export const TRANSACTION_COOKIE = '__Host-latchkey-oidc';

/** The login transactions of `/oidc/login` and `/oidc/callback`: the store entry and this browser's cookie naming it. */
export interface LoginTransactions {
  readonly cookieName: string;
  /**
   * Starts a fresh transaction (a new id: an id planted in the browser beforehand is never reused; the browser's
   * previous one is destroyed) and saves it. Returns the cookie's `Set-Cookie` line.
   */
  begin(cookieHeader: string | undefined, transaction: LoginTransaction): Promise<string>;
  /** Takes the transaction out and destroys it, whatever happens next: it is single-use. `clearCookie` removes the cookie. */
  take(cookieHeader: string | undefined): Promise<{ transaction: LoginTransaction | null; clearCookie: string }>;
}

/**
 * The login transaction, on the same backend as the device sessions so the callback may land on any instance. Its own
 * cookie: `__Host-latchkey-oidc`, HttpOnly, Secure, SameSite=Lax (the callback is a cross-site top-level navigation
 * from the IdP: a Strict cookie would not be sent with it), living as long as the transaction. The cookie's value is
 * the one express-session wrote when it did this job, `s:<id>.<HMAC-SHA256 of the id>` (cookie-signature, the first
 * secret signing, any verifying), and the entry is in its shape, so the store's entries and the browsers' cookies are
 * the same as before.
 */
export function createLoginTransactions(ctx: BffContext, oidc: ResolvedOidcOptions): LoginTransactions {
  const insecure = ctx.options.dangerouslyAllowInsecureHttp;
  const cookieName = insecure ? TRANSACTION_COOKIE.replace(/^__Host-/, '') : TRANSACTION_COOKIE;
  const attributes = { httpOnly: true, secure: !insecure, sameSite: 'lax', path: '/' } as const;
  const entries = TransactionEntries.open<LoginTransaction>(ctx, 'oidc', 'oidc', () =>
    ctx.logger.warn({ event: 'oidc_transaction_memory_store' }, 'the session store offers no login transaction store; using a per-process one'),
  );
  const idOf = (cookieHeader: string | undefined): string | null => {
    const value = readCookie(cookieHeader, cookieName);
    if (value === undefined || !value.startsWith('s:')) return null;
    for (const secret of ctx.options.secrets) {
      const id = signature.unsign(value.slice(2), secret);
      if (id !== false) return id;
    }
    return null;
  };
  return {
    cookieName,
    async begin(cookieHeader, transaction) {
      const previous = idOf(cookieHeader);
      if (previous !== null) await entries.destroy(previous);
      const id = randomToken(32);
      const expires = new Date(Date.now() + oidc.transactionTtlSeconds * 1000);
      await entries.put(id, transaction, expires);
      return serialize(cookieName, `s:${signature.sign(id, ctx.options.secrets[0]!)}`, { ...attributes, expires });
    },
    async take(cookieHeader) {
      const id = idOf(cookieHeader);
      const transaction = id === null ? null : await entries.get(id);
      if (id !== null) await entries.destroy(id);
      return { transaction, clearCookie: serialize(cookieName, '', { ...attributes, expires: new Date(1) }) };
    },
  };
}
