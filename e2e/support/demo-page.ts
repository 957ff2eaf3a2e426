/**
 * The demo page as the specs drive it: only through its data-testid attributes, like a user would, plus what the
 * browser really sent and received on the network (tokens, refresh answers).
 */
import type { APIRequestContext, BrowserContext, Page, Request, Response } from '@playwright/test';
import { expect } from './fixtures.js';

/** "authenticated" but not "unauthenticated". */
export const AUTHENTICATED = /(^|[^a-z])authenticated/i;
export const UNAUTHENTICATED = /unauthenticated/i;

export const ACCOUNTS = {
  alice: { username: 'alice', password: 'wonderland', id: 'user-alice', name: 'Alice Liddell' },
  bob: { username: 'bob', password: 'builder', id: 'user-bob', name: 'Bob the Builder' },
} as const;
export type AccountName = keyof typeof ACCOUNTS;

const pathOf = (url: string) => new URL(url).pathname;
export const isApiMe = (r: Request | Response) => pathOf(r.url()) === '/api/me';
export const isRefresh = (r: Request | Response) => pathOf(r.url()) === '/auth/refresh';

export const status = (page: Page) => page.getByTestId('status');

/** Opens the page and waits until the session has settled (no longer loading). */
export async function openDemo(page: Page): Promise<void> {
  await page.goto('/');
  await expect(status(page)).toBeVisible();
  await expect(status(page)).not.toHaveText(/loading/i, { timeout: 15_000 });
}

export async function expectSignedIn(page: Page, timeout?: number): Promise<void> {
  await expect(status(page)).toHaveText(AUTHENTICATED, timeout ? { timeout } : {});
}

/** A protocol code as the page must never show it to a user: `logout_all`, `session_revoked`, `csrf_rejected`. */
export const RAW_CODE = /\b[a-z]+_[a-z_]+\b/;

/**
 * Signed out; with `reason`, the page must show that sign-out reason: the client's code (e.g. session_revoked) in
 * `data-reason`, and a sentence (never the code) as its text; with `sentence`, that one.
 */
export async function expectSignedOut(page: Page, reason?: string, timeout?: number, sentence?: string | RegExp): Promise<void> {
  await expect(status(page)).toHaveText(UNAUTHENTICATED, timeout ? { timeout } : {});
  if (reason) {
    const shown = page.getByTestId('signout-reason');
    await expect(shown).toBeVisible();
    await expect(shown).toHaveAttribute('data-reason', reason);
    await expect(shown).toHaveText(sentence ?? /\w+ \w+/);
    await expect(shown).not.toHaveText(RAW_CODE);
  }
}

/** Logs in through the form (on a page that shows it) and waits for the authenticated status. */
export async function login(page: Page, account: AccountName, deviceName: string): Promise<void> {
  const { username, password } = ACCOUNTS[account];
  await expect(status(page)).toHaveText(UNAUTHENTICATED);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  const device = page.getByTestId('login-device');
  if (await device.count()) await device.fill(deviceName);
  const answered = page.waitForResponse((r) => pathOf(r.url()) === '/auth/login');
  await page.getByTestId('login-submit').click();
  const response = await answered;
  expect(response.status(), `POST /auth/login answered ${response.status()}`).toBe(200);
  await expectSignedIn(page);
}

/** Opens the page in a new tab of `context` and logs in. */
export async function newSignedInPage(context: BrowserContext, account: AccountName, deviceName: string): Promise<Page> {
  const page = await context.newPage();
  await openDemo(page);
  await login(page, account, deviceName);
  return page;
}

/**
 * Stops time in every page of a device, whose clock was installed (`context.clock.install()`) before its pages
 * loaded: its client then makes no silent refresh of its own and contacts the BFF only when the user acts.
 */
export async function freezeTime(context: BrowserContext): Promise<void> {
  const inFlight = new Set<Request>();
  const started = (request: Request) => {
    if (pathOf(request.url()) === '/auth/refresh') inFlight.add(request);
  };
  const ended = (request: Request) => inFlight.delete(request);
  context.on('request', started);
  context.on('requestfinished', ended);
  context.on('requestfailed', ended);
  try {
    // The page's fake clock can run a little ahead of this process's (timers fire late, and it catches up): pause
    // 250 ms past whichever is later, never "in the past" of the page.
    const pageNow = await Promise.all(context.pages().map((page) => page.evaluate(() => Date.now())));
    await context.clock.pauseAt(Math.max(Date.now(), ...pageNow) + 250);
    // pauseAt fires the timers due before it: a refresh started there must land before the test goes on, or a
    // revocation made next reaches the device through that refresh instead of at its next call. The round trip to
    // each page makes sure such a request has been seen.
    for (const page of context.pages()) await page.evaluate(() => 0);
    await expect.poll(() => inFlight.size, { timeout: 15_000 }).toBe(0);
  } finally {
    context.off('request', started);
    context.off('requestfinished', ended);
    context.off('requestfailed', ended);
  }
}

/**
 * Clicks "call me" and waits for the protected API to answer 200 (after a refresh and a retry, if the client
 * needed one); the page then shows the user.
 */
export async function callMeSucceeds(page: Page, account: AccountName = 'alice'): Promise<void> {
  const ok = page.waitForResponse((r) => isApiMe(r) && r.status() === 200, { timeout: 15_000 });
  await page.getByTestId('call-me').click();
  await ok;
  await expect(page.getByTestId('me-result')).toContainText(new RegExp(`${ACCOUNTS[account].name}|${ACCOUNTS[account].id}`));
}

/**
 * Clicks "call me" once and waits until the page has its answer (the button is enabled again). Returns the
 * result's state, 'ok' or 'error'. For polling, where an error is allowed for a while.
 */
export async function callMeOnce(page: Page): Promise<string | null> {
  const sent = page.waitForRequest((r) => isApiMe(r), { timeout: 10_000 });
  await page.getByTestId('call-me').click();
  await sent;
  await expect(page.getByTestId('call-me')).toBeEnabled({ timeout: 20_000 });
  return page.getByTestId('me-result').getAttribute('data-state');
}

/** Every access token one browser context received or sent: login and refresh answers, Authorization headers. */
export class TokenRecorder {
  readonly tokens = new Set<string>();
  /**
   * Every /auth/refresh answer the browser received once signed in: status and error code. (A page that starts
   * without a cookie probes with a refresh and gets 401 no_session: that is "signed out", not an ended session,
   * so answers before the first successful login or refresh are kept apart in `probes`.)
   */
  readonly refreshes: { status: number; error?: string; at: number }[] = [];
  readonly probes: { status: number; error?: string; at: number }[] = [];
  private signedIn = false;
  private readonly pending: Promise<unknown>[] = [];

  /** `signedIn`: the context is already signed in, so every refresh answer from now on counts. */
  constructor(context: BrowserContext, signedIn = false) {
    this.signedIn = signedIn;
    context.on('request', (request) => {
      const header = request.headers().authorization;
      if (header?.startsWith('Bearer ')) this.tokens.add(header.slice('Bearer '.length));
    });
    context.on('response', (response) => {
      const path = pathOf(response.url());
      if (path !== '/auth/login' && path !== '/auth/refresh') return;
      const entry = { status: response.status(), at: Date.now() } as { status: number; error?: string; at: number };
      if (path === '/auth/refresh') (this.signedIn ? this.refreshes : this.probes).push(entry);
      if (entry.status === 200) this.signedIn = true;
      this.pending.push(
        response
          .json()
          .then((body: { accessToken?: string; error?: string }) => {
            if (typeof body.accessToken === 'string') this.tokens.add(body.accessToken);
            if (typeof body.error === 'string') entry.error = body.error;
          })
          .catch(() => {}),
      );
    });
  }

  /** Waits for the bodies read so far. */
  async settle(): Promise<void> {
    await Promise.all(this.pending);
  }

  rotatedCount(): number {
    return this.refreshes.filter((r) => r.status === 200).length;
  }
}

/** Replays every token against GET /api/me outside the browser and returns the statuses. */
export async function replayTokens(request: APIRequestContext, tokens: Iterable<string>): Promise<number[]> {
  const statuses: number[] = [];
  for (const token of tokens) {
    const res = await request.get('/api/me', { headers: { Authorization: `Bearer ${token}` } });
    statuses.push(res.status());
  }
  return statuses;
}

/** Records every text the status element shows, from now on (a MutationObserver in the page). */
export async function recordStatusTexts(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { __statusTexts: string[] };
    w.__statusTexts = [];
    const read = () => document.querySelector('[data-testid="status"]')?.textContent ?? '<missing>';
    w.__statusTexts.push(read());
    new MutationObserver(() => {
      const text = read();
      if (w.__statusTexts[w.__statusTexts.length - 1] !== text) w.__statusTexts.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  return () => page.evaluate(() => (window as unknown as { __statusTexts: string[] }).__statusTexts.slice());
}

/** Everything script in the page can read that might hold a secret: web storage, IndexedDB, caches, cookies. */
export async function readableBrowserState(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const dump: Record<string, unknown> = {};
    const storage = (s: Storage) => Object.fromEntries(Array.from({ length: s.length }, (_, i) => [s.key(i)!, s.getItem(s.key(i)!)]));
    dump.localStorage = storage(localStorage);
    dump.sessionStorage = storage(sessionStorage);
    dump.cookie = document.cookie;
    const databases: Record<string, unknown> = {};
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(info.name!);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const stores: Record<string, unknown> = {};
      for (const name of Array.from(db.objectStoreNames)) {
        stores[name] = await new Promise((resolve, reject) => {
          const tx = db.transaction(name, 'readonly');
          const all = tx.objectStore(name).getAll();
          const keys = tx.objectStore(name).getAllKeys();
          tx.oncomplete = () => resolve({ keys: keys.result, values: all.result });
          tx.onerror = () => reject(tx.error);
        });
      }
      db.close();
      databases[info.name] = stores;
    }
    dump.indexedDB = databases;
    if ('caches' in window) {
      const caches: Record<string, unknown> = {};
      for (const name of await window.caches.keys()) {
        const cache = await window.caches.open(name);
        const entries: unknown[] = [];
        for (const req of await cache.keys()) entries.push({ url: req.url, body: await (await cache.match(req))?.text() });
        caches[name] = entries;
      }
      dump.caches = caches;
    }
    return JSON.stringify(dump);
  });
}

/**
 * Takes EventSource away from every page of the device, before any page loads: `@latchkey/client/live` then falls
 * back to today's behaviour (a device signed out elsewhere learns it at its next refresh or API call). For the
 * specs of that path; e2e/specs/live.spec.ts covers the push.
 */
export async function withoutLivePush(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    delete (window as { EventSource?: unknown }).EventSource;
  });
}
