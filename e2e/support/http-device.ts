/** A device talking to the demo over plain HTTP (no browser): keeps its cookie like a browser would. */
export const SESSION_COOKIE = '__Host-latchkey';

export interface TokenBody {
  accessToken: string;
  expiresAt: number;
  session: { id: string };
  user: { id: string; name: string };
}

export class HttpDevice {
  cookie: string | null = null;
  setCookieHeaders: string[] = [];
  token: string | null = null;

  constructor(private readonly base: string) {}

  async call(method: string, path: string, body?: unknown, base = this.base): Promise<Response> {
    const headers: Record<string, string> = { 'X-CSRF': '1' };
    if (this.cookie) headers.Cookie = `${SESSION_COOKIE}=${this.cookie}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    this.setCookieHeaders = res.headers.getSetCookie();
    const set = this.setCookieHeaders.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    if (set) {
      const value = set.split(';')[0]!.slice(SESSION_COOKIE.length + 1);
      this.cookie = value === '' ? null : value;
    }
    return res;
  }

  async login(username: string, password: string, deviceName = 'http-device'): Promise<TokenBody> {
    const res = await this.call('POST', '/auth/login', { username, password, deviceName });
    if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as TokenBody;
    this.token = body.accessToken;
    return body;
  }

  async refresh(base = this.base): Promise<Response> {
    const res = await this.call('POST', '/auth/refresh', {}, base);
    if (res.status === 200) this.token = ((await res.clone().json()) as TokenBody).accessToken;
    return res;
  }

  me(token = this.token, base = this.base): Promise<Response> {
    return fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  }
}
