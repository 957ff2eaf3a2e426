import { createHash } from 'node:crypto';
import { serialize } from 'cookie';
import type { BffContext } from '../context.js';
import { randomToken } from '../crypto/random.js';
import { readCookie } from '../session/cookie.js';
import type { SessionStore } from '../store/types.js';
import { TransactionEntries } from './transaction-entries.js';

/** What GET /oidc/logout needs once the session is gone: the ended session's ID token, still sealed. */
export interface LogoutHandle {
  idTokenSealed: string | null;
  /** The provider whose end-session endpoint the browser goes to (absent in handles made before there were several: the default one). */
  provider?: string;
}

export const LOGOUT_COOKIE = '__Host-latchkey-logout';
/** The page follows `redirectTo` at once; two minutes leave room for a slow network and nothing more. */
export const LOGOUT_HANDLE_TTL_SECONDS = 120;
const HANDLE = /^[\w-]{43}$/;

const stores = new WeakMap<SessionStore, TransactionEntries<LogoutHandle>>();

/** Entries on the session store's backend (as the login transaction's), so the page may land on any instance. */
function handleStore(ctx: BffContext): TransactionEntries<LogoutHandle> {
  let store = stores.get(ctx.store);
  if (!store) {
    store = TransactionEntries.open<LogoutHandle>(ctx, 'oidc-logout', 'oidcLogout');
    stores.set(ctx.store, store);
  }
  return store;
}

const cookieName = (ctx: BffContext) => (ctx.options.dangerouslyAllowInsecureHttp ? LOGOUT_COOKIE.replace(/^__Host-/, '') : LOGOUT_COOKIE);
// Strict: only a navigation from this site carries it, so a third party's link to GET /oidc/logout finds no handle.
const cookieOptions = (ctx: BffContext) => ({ httpOnly: true, secure: !ctx.options.dangerouslyAllowInsecureHttp, sameSite: 'strict' as const, path: '/' });
// The store holds a hash: an entry read from the store cannot be presented as a cookie.
const entryId = (handle: string) => createHash('sha256').update(handle).digest('base64url');

/**
 * After the local logout of a session from the IdP: stores the session's sealed ID token under a fresh random handle
 * (single use, LOGOUT_HANDLE_TTL_SECONDS) and gives the handle to this browser only, in an HttpOnly SameSite=Strict
 * cookie. Neither the ID token nor the handle appears in the answer's body or in any URL.
 */
export async function issueLogoutHandle(ctx: BffContext, setCookie: (line: string) => void, handle: LogoutHandle): Promise<void> {
  const value = randomToken(32);
  await handleStore(ctx).put(entryId(value), handle, new Date(Date.now() + LOGOUT_HANDLE_TTL_SECONDS * 1000));
  setCookie(serialize(cookieName(ctx), value, { ...cookieOptions(ctx), maxAge: LOGOUT_HANDLE_TTL_SECONDS }));
}

/** Takes this browser's handle out (at most once, whatever happens next) and clears its cookie; null when there is none. */
export async function takeLogoutHandle(ctx: BffContext, cookieHeader: string | undefined, setCookie: (line: string) => void): Promise<LogoutHandle | null> {
  const value = readCookie(cookieHeader, cookieName(ctx));
  setCookie(serialize(cookieName(ctx), '', { ...cookieOptions(ctx), maxAge: 0, expires: new Date(0) }));
  if (value === undefined || !HANDLE.test(value)) return null;
  const id = entryId(value);
  const store = handleStore(ctx);
  // A read first: made-up cookies cost no write. Then the claim, atomic on every backend: of two requests with the
  // same cookie, even concurrent ones that both read the entry, only one has it.
  const handle = await store.get(id);
  if (!handle || !(await ctx.store.useOnce(`oidc-logout\n${id}`, LOGOUT_HANDLE_TTL_SECONDS * 1000))) return null;
  await store.destroy(id);
  return handle;
}
