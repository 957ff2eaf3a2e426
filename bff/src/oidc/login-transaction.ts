import type { Request, RequestHandler, Response } from 'express';
import session, { MemoryStore as ExpressSessionMemoryStore } from 'express-session';
import type { BffContext } from '../context.js';
import { randomToken } from '../crypto/random.js';
import type { ResolvedOidcOptions } from '../options.js';
import type { ReplacedSession } from './replaced-session.js';

/** What one sign-in at the IdP needs to remember between the redirect and the callback. */
export interface LoginTransaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** The session this browser held at `/oidc/login` (its cookie was current): the callback ends it. */
  replaces?: ReplacedSession;
}

declare module 'express-session' {
  interface SessionData {
    oidc?: LoginTransaction;
  }
}

export const TRANSACTION_COOKIE = '__Host-latchkey-oidc';

/**
 * express-session for the login transaction only (mounted on `/oidc/login` and `/oidc/callback`, nowhere else), on the
 * same backend as the device sessions so the callback may land on any instance. Its own cookie:
 * `__Host-latchkey-oidc`, HttpOnly, Secure, SameSite=Lax (the callback is a cross-site top-level navigation from the
 * IdP: a Strict cookie would not be sent with it), living as long as the transaction.
 */
export function createLoginTransactionMiddleware(ctx: BffContext, oidc: ResolvedOidcOptions): { middleware: RequestHandler; cookieName: string } {
  const insecure = ctx.options.dangerouslyAllowInsecureHttp;
  const cookieName = insecure ? TRANSACTION_COOKIE.replace(/^__Host-/, '') : TRANSACTION_COOKIE;
  // The store's own implementations extend express-session's Store; the public type is structural (store/types.ts).
  let store = ctx.store.createLoginTransactionStore?.('oidc') as session.Store | undefined;
  if (!store) {
    ctx.logger.warn({ event: 'oidc_transaction_memory_store' }, 'the session store offers no login transaction store; using a per-process one');
    store = new ExpressSessionMemoryStore();
  }
  const sessionMiddleware = session({
    name: cookieName,
    secret: [...ctx.options.secrets],
    store,
    genid: () => randomToken(32),
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'destroy',
    cookie: { httpOnly: true, secure: !insecure, sameSite: 'lax', path: '/', maxAge: oidc.transactionTtlSeconds * 1000 },
  });
  const middleware: RequestHandler = (req, res, next) => {
    // express-session silently drops a Secure cookie unless `req.secure`; the BFF sets its cookies Secure whatever the
    // hop to it was (browsers take Secure cookies from http://localhost; TLS usually ends at a proxy), so here too.
    if (!insecure && !req.secure) Object.defineProperty(req, 'secure', { value: true, configurable: true });
    sessionMiddleware(req, res, next);
  };
  return { middleware, cookieName };
}

const promisify = (run: (done: (error?: unknown) => void) => void) =>
  new Promise<void>((resolve, reject) => run((error) => (error ? reject(error) : resolve())));

/** Starts a fresh transaction (a new id: an id planted in the browser beforehand is never reused) and saves it. */
export async function beginLoginTransaction(req: Request, transaction: LoginTransaction): Promise<void> {
  await promisify((done) => req.session.regenerate(done));
  req.session.oidc = transaction;
  await promisify((done) => req.session.save(done));
}

/** Takes the transaction out and destroys it (store entry and cookie), whatever happens next: it is single-use. */
export async function takeLoginTransaction(req: Request, res: Response, cookieName: string, secure: boolean): Promise<LoginTransaction | null> {
  const transaction = req.session?.oidc ?? null;
  if (req.session) await promisify((done) => req.session.destroy(done));
  res.clearCookie(cookieName, { httpOnly: true, secure, sameSite: 'lax', path: '/' });
  return transaction;
}
