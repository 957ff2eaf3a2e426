import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../../bff/test/helpers/free-port.js';

export { freePort };

export const DEMO_SERVER = fileURLToPath(new URL('../../dist/server.js', import.meta.url));


export interface DemoProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * The load in these tests refreshes each device every ~60 ms, far beyond what a browser does (once per token lifetime
 * and page load) and the default refresh limits allow; tests that check the limits pass LATCHKEY_RATE_LIMITS themselves.
 */
const LOAD_TEST_RATE_LIMITS = JSON.stringify({
  refreshPerIp: { limit: 1_000_000, windowMs: 60_000 },
  refreshPerSession: { limit: 1_000_000, windowMs: 60_000 },
});

/** Starts `node examples/demo/dist/server.js` (built by `npm run build`) and waits until it answers. */
export async function startDemoProcess(env: Record<string, string>): Promise<DemoProcess> {
  if (!existsSync(DEMO_SERVER)) throw new Error(`${DEMO_SERVER} is missing: run \`npm run build\` first`);
  const port = await freePort();
  let log = '';
  const child = spawn(process.execPath, [DEMO_SERVER], {
    env: { ...process.env, NODE_ENV: 'test', LATCHKEY_LOG_LEVEL: 'warn', LATCHKEY_RATE_LIMITS: LOAD_TEST_RATE_LIMITS, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => void (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => void (log += d.toString()));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const url = `http://localhost:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`demo exited early:\n${log}`);
    try {
      if ((await fetch(`${url}/api/public`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      kill();
      throw new Error(`demo did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    child,
    output: () => log,
    stop: async () => {
      process.off('exit', kill);
      // A process killed by a signal has a signalCode and no exitCode: it has already exited.
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A device talking to the demo over real HTTP: keeps its cookie like a browser would. */
export class HttpDevice {
  cookie: string | null = null;
  token: string | null = null;
  sid: string | null = null;

  async call(base: string, method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { 'X-CSRF': '1' };
    if (this.cookie) headers.Cookie = this.cookie;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey='));
    if (setCookie) {
      const pair = setCookie.split(';')[0]!;
      this.cookie = pair.endsWith('=') ? null : pair;
    }
    return res;
  }

  async login(base: string, username: string, password: string): Promise<void> {
    const res = await this.call(base, 'POST', '/auth/login', { username, password });
    if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
    const body = (await res.json()) as { accessToken: string; session: { id: string } };
    this.token = body.accessToken;
    this.sid = body.session.id;
  }

  async refresh(base: string): Promise<Response> {
    const res = await this.call(base, 'POST', '/auth/refresh');
    if (res.status === 200) this.token = ((await res.clone().json()) as { accessToken: string }).accessToken;
    return res;
  }

  me(base: string, token = this.token): Promise<Response> {
    return fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
  }
}
