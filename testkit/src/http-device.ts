/**
 * A device talking to a Latchkey BFF over real HTTP, no browser: a cookie jar like a browser's (SameSite included),
 * the CSRF header on every /auth call, and the protocol's calls (login, refresh, me, logout, logout-all,
 * logout-others, sessions). request() and follow() are the raw, browser-like layer the OIDC redirect flow uses: say
 * where a request comes from (`from`) and the jar sends what a browser would.
 */
import { CookieJar } from './cookie-jar.js';

/** The session cookie of a BFF on HTTPS (the demo); a BFF with `dangerouslyAllowInsecureHttp` names it `latchkey`. */
export const SESSION_COOKIE = '__Host-latchkey';

/** The body of a 200 from /auth/login and /auth/refresh. */
export interface TokenBody {
  accessToken: string;
  expiresAt: number;
  session: { id: string };
  user: { id: string; name: string };
}

export interface HttpDeviceOptions {
  /** Every request's deadline, so a hung server fails the test instead of hanging it. Default 10 s. */
  timeoutMs?: number;
  /** Default SESSION_COOKIE. */
  sessionCookieName?: string;
}

export interface DeviceRequestInit {
  method?: string;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Sent as application/json. */
  json?: unknown;
  headers?: Record<string, string>;
  /**
   * The page the request comes from (its URL), then the URLs of the redirects that led here; cookies follow SameSite
   * against them (cross-site: no Strict cookie; Lax only on a top-level GET navigation). Absent: a request the user
   * started (typed URL, bookmark), same-site.
   */
  from?: string | URL | readonly (string | URL)[];
  /** A top-level navigation (default) or, false, a fetch made by the page (`from`). */
  navigation?: boolean;
}

export interface CallOptions {
  body?: unknown;
  /** Another process of the same deployment instead of the device's base URL. */
  base?: string;
  headers?: Record<string, string>;
}

export class HttpDevice {
  readonly jar = new CookieJar();
  /** The access token of the last successful login or refresh. */
  token: string | null = null;
  /** The session id of the last login. */
  sid: string | null = null;
  /** Every Set-Cookie line of the last answer. */
  setCookieHeaders: string[] = [];
  /** The URL of the last request: where a redirect it answered comes from (pass it as the next request's `from`). */
  lastUrl: string | null = null;
  private readonly timeoutMs: number;
  private readonly sessionCookieName: string;

  /** `base`: the BFF's origin, e.g. http://localhost:3000 (optional for request() and follow(), which take URLs). */
  constructor(
    readonly base = '',
    options: HttpDeviceOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.sessionCookieName = options.sessionCookieName ?? SESSION_COOKIE;
  }

  /** The session cookie's value for the base URL's host, or null. Assign to plant a (stolen) cookie. */
  get cookie(): string | null {
    return this.jar.get(this.origin(), this.sessionCookieName) ?? null;
  }

  set cookie(value: string | null) {
    this.jar.set(this.origin(), this.sessionCookieName, value);
  }

  /** One cookie of the jar. */
  cookieAt(url: string, name: string): string | undefined {
    return this.jar.get(url, name);
  }

  /** One request with the cookies a browser would send (SameSite, see `from`); stores what it sets; follows no redirect. */
  async request(url: string, init: DeviceRequestInit = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    let body: string | undefined;
    if (init.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    const method = init.method ?? (body ? 'POST' : 'GET');
    const initiators = init.from === undefined ? [] : [init.from].flat().map(String);
    const cookie = this.jar.header(url, { initiators, navigation: init.navigation ?? true, method });
    if (cookie) headers.Cookie = cookie;
    this.lastUrl = url;
    const res = await fetch(url, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    this.setCookieHeaders = res.headers.getSetCookie();
    this.jar.store(url, this.setCookieHeaders);
    return res;
  }

  /**
   * A top-level navigation to `url` (from the page `from`, when given) following its redirects until one points where
   * `stop` says (not requested), or a non-redirect answer. Each hop's cookies follow SameSite against the page and the
   * hops before it, as a browser's; `chain` is every URL requested, for the next request's `from`.
   */
  async follow(
    url: string,
    stop: (next: URL) => boolean,
    init: { from?: DeviceRequestInit['from'] } = {},
  ): Promise<{ stoppedAt: URL | null; last: Response; chain: string[] }> {
    const chain: string[] = init.from === undefined ? [] : [init.from].flat().map(String);
    let current = url;
    for (let hops = 0; hops < 20; hops++) {
      const res = await this.request(current, { from: [...chain] });
      chain.push(current);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { stoppedAt: null, last: res, chain };
      const next = new URL(location, current);
      if (stop(next)) return { stoppedAt: next, last: res, chain };
      current = next.href;
    }
    throw new Error('too many redirects');
  }

  /** A call to the BFF, made by a page of the BFF's origin (a same-site fetch): X-CSRF on, the jar's cookies, an optional JSON body. */
  call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    const url = `${options.base ?? this.origin()}${path}`;
    return this.request(url, {
      method,
      from: url,
      navigation: false,
      headers: { 'X-CSRF': '1', ...options.headers },
      ...(options.body !== undefined ? { json: options.body } : {}),
    });
  }

  /** POST /auth/login; keeps the token and session id; throws unless 200. */
  async login(username: string, password: string, options: { deviceName?: string; base?: string } = {}): Promise<TokenBody> {
    const body = { username, password, ...(options.deviceName ? { deviceName: options.deviceName } : {}) };
    const res = await this.call('POST', '/auth/login', { body, ...(options.base ? { base: options.base } : {}) });
    if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
    const tokens = (await res.json()) as TokenBody;
    this.token = tokens.accessToken;
    this.sid = tokens.session.id;
    return tokens;
  }

  /** POST /auth/refresh; keeps the new token on 200. The answer's body is still readable. */
  async refresh(base?: string): Promise<Response> {
    const res = await this.call('POST', '/auth/refresh', base ? { base } : {});
    if (res.status === 200) this.token = ((await res.clone().json()) as TokenBody).accessToken;
    return res;
  }

  /** GET /api/me with a bearer token (the device's own unless given), no cookie. */
  me(options: { token?: string | null; base?: string } = {}): Promise<Response> {
    const token = options.token === undefined ? this.token : options.token;
    return fetch(`${options.base ?? this.origin()}/api/me`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }

  logout(base?: string): Promise<Response> {
    return this.call('POST', '/auth/logout', base ? { base } : {});
  }

  logoutAll(base?: string): Promise<Response> {
    return this.call('POST', '/auth/logout-all', base ? { base } : {});
  }

  /** POST /auth/logout-others: every other device of this user signs out. */
  logoutOthers(base?: string): Promise<Response> {
    return this.call('POST', '/auth/logout-others', base ? { base } : {});
  }

  sessions(base?: string): Promise<Response> {
    return this.call('GET', '/auth/sessions', base ? { base } : {});
  }

  private origin(): string {
    if (!this.base) throw new Error('this HttpDevice has no base URL: pass one to the constructor');
    return this.base;
  }
}
