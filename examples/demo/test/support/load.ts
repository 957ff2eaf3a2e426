/**
 * A bounded background load for resilience tests: a few simulated devices, each logged in once, then looping
 * "refresh, then GET /api/me" until stopped. Every request has a deadline (AbortSignal.timeout), so a hung server shows
 * up as a recorded `timeout`, never as a hung test. Every answer is recorded with its timing, so a test can ask what
 * happened in a given window.
 */
import { SESSION_COOKIE as COOKIE_NAME, sleep } from '@latchkey/testkit';

/**
 * The load in these tests refreshes each device every ~60 ms, far beyond what a browser does (once per token lifetime
 * and page load) and the default refresh limits allow; tests that check the limits pass LATCHKEY_RATE_LIMITS themselves.
 */
const LOAD_TEST_RATE_LIMITS = JSON.stringify({
  refresh: {
    perIp: { limit: 1_000_000, windowMs: 60_000 },
    perSession: { limit: 1_000_000, windowMs: 60_000 },
  },
});

/** A demo process's environment for these tests: `env`, with the refresh limits lifted unless `env` sets them. */
export function loadTestEnv(env: Record<string, string>): Record<string, string> {
  return { LATCHKEY_RATE_LIMITS: LOAD_TEST_RATE_LIMITS, ...env };
}

/** How long one request may take before it counts as hung. The BFF's own store deadline is 1 s. */
export const REQUEST_TIMEOUT_MS = 5000;

export type RequestKind = 'login' | 'refresh' | 'me' | 'logout' | 'logout-all' | 'sessions';

/** A status code, or what happened instead of an answer. */
export type Outcome = number | 'timeout' | 'network_error';

export interface RequestRecord {
  device: string;
  kind: RequestKind;
  /** Base URL the request went to. */
  target: string;
  start: number;
  end: number;
  outcome: Outcome;
  /** `error` of the JSON error body, when there was one. */
  error?: string;
  /** The cookie sent (name=value), if any. */
  cookieSent: string | null;
  /** Whether the answer set or cleared the session cookie. */
  setCookie: boolean;
  /** 1 for a first try, 2 for the device's own retry. */
  attempt: number;
  detail?: string;
}

export class Recorder {
  readonly records: RequestRecord[] = [];

  add(record: RequestRecord): void {
    this.records.push(record);
  }

  where(filter: (r: RequestRecord) => boolean): RequestRecord[] {
    return this.records.filter(filter);
  }

  /** `{ refresh: { 200: 41, 503: 12 }, me: {...} }`: every outcome, per request kind. */
  summary(records: readonly RequestRecord[] = this.records): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const r of records) {
      const key = r.error ? `${r.outcome} ${r.error}` : String(r.outcome);
      const kind = (out[r.kind] ??= {});
      kind[key] = (kind[key] ?? 0) + 1;
    }
    return out;
  }
}

export interface CallOptions {
  body?: unknown;
  /** Bearer token instead of the cookie (for /api/me). */
  token?: string | null;
  /** Send this cookie instead of the device's current one (null: none). */
  cookie?: string | null;
  attempt?: number;
  timeoutMs?: number;
}

export interface CallResult {
  outcome: Outcome;
  error?: string;
  json?: unknown;
  record: RequestRecord;
}

/** A device that keeps its cookie like a browser would, and records every exchange. */
export class LoadDevice {
  cookie: string | null = null;
  token: string | null = null;
  sid: string | null = null;

  constructor(
    readonly name: string,
    readonly recorder: Recorder,
  ) {}

  async call(base: string, kind: RequestKind, method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
    const headers: Record<string, string> = {};
    const cookie = options.cookie !== undefined ? options.cookie : this.cookie;
    if (options.token !== undefined) {
      if (options.token !== null) headers.Authorization = `Bearer ${options.token}`;
    } else {
      headers['X-CSRF'] = '1';
      if (cookie) headers.Cookie = cookie;
    }
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const record: RequestRecord = {
      device: this.name,
      kind,
      target: base,
      start: Date.now(),
      end: 0,
      outcome: 'network_error',
      cookieSent: options.token !== undefined ? null : (cookie ?? null),
      setCookie: false,
      attempt: options.attempt ?? 1,
    };
    let json: unknown;
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      record.outcome = res.status;
      if (text) {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      if (res.status !== 200 && json && typeof json === 'object' && 'error' in json) record.error = String((json as { error: unknown }).error);
      const setCookie = res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE_NAME}=`));
      if (setCookie) {
        record.setCookie = true;
        // Only the device's own cookie follows the answer; a call with an explicit cookie leaves it alone.
        if (options.cookie === undefined && options.token === undefined) {
          const pair = setCookie.split(';')[0]!;
          this.cookie = pair.endsWith('=') ? null : pair;
        }
      }
    } catch (error) {
      const e = error as Error;
      record.outcome = e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timeout' : 'network_error';
      record.detail = `${e.name}: ${e.message}${e.cause ? ` (${String((e.cause as Error).message ?? e.cause)})` : ''}`;
    }
    record.end = Date.now();
    this.recorder.add(record);
    return { outcome: record.outcome, ...(record.error ? { error: record.error } : {}), json, record };
  }

  async login(base: string, username: string, password: string): Promise<void> {
    const r = await this.call(base, 'login', 'POST', '/auth/login', { body: { username, password, deviceName: this.name } });
    if (r.outcome !== 200) throw new Error(`${this.name}: login failed: ${r.outcome} ${r.error ?? ''}`);
    const body = r.json as { accessToken: string; session: { id: string } };
    this.token = body.accessToken;
    this.sid = body.session.id;
  }

  async refresh(base: string, options: Pick<CallOptions, 'attempt' | 'cookie'> = {}): Promise<CallResult> {
    const r = await this.call(base, 'refresh', 'POST', '/auth/refresh', options);
    if (r.outcome === 200 && options.cookie === undefined) this.token = (r.json as { accessToken: string }).accessToken;
    return r;
  }

  me(base: string, options: Pick<CallOptions, 'attempt' | 'token'> = {}): Promise<CallResult> {
    return this.call(base, 'me', 'GET', '/api/me', { token: this.token, ...options });
  }

  logout(base: string): Promise<CallResult> {
    return this.call(base, 'logout', 'POST', '/auth/logout');
  }

  logoutAll(base: string): Promise<CallResult> {
    return this.call(base, 'logout-all', 'POST', '/auth/logout-all');
  }
}

export interface LoadOptions {
  /** Where iteration `n` of device `i` sends its refresh and its GET /api/me. */
  route: (device: number, iteration: number) => { refresh: string; me: string };
  /** Pause between iterations, ms (keeps the load modest). */
  thinkMs?: number;
  /** Retry a failed request (anything but 200) once, like a client would. */
  retryOnce?: boolean;
}

/** The background loop. `stop()` lets every device finish its current request and resolves when all have. */
export class Load {
  private stopping = false;
  private loops: Promise<void>[] = [];
  iterations = 0;

  constructor(
    readonly devices: readonly LoadDevice[],
    private readonly options: LoadOptions,
  ) {}

  start(): this {
    this.loops = this.devices.map((device, i) => this.loop(device, i));
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async loop(device: LoadDevice, index: number): Promise<void> {
    const think = this.options.thinkMs ?? 40;
    // Spread the devices out so they do not move in lockstep.
    await sleep(index * 7);
    for (let n = 0; !this.stopping; n++) {
      const { refresh, me } = this.options.route(index, n);
      const r = await device.refresh(refresh);
      if (r.outcome !== 200 && this.options.retryOnce && !this.stopping) await device.refresh(refresh, { attempt: 2 });
      if (this.stopping) break;
      const m = await device.me(me);
      if (m.outcome !== 200 && this.options.retryOnce && !this.stopping) await device.me(me, { attempt: 2 });
      this.iterations++;
      await sleep(think + Math.random() * think);
    }
  }
}
