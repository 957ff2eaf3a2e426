import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** What a new user writes: the three packages from their tarballs, an Express app, nothing from this repository. */
const APP = `
import express from 'express';
import { createBff, MemoryStore } from '@latchkey/bff';
import { ROUTES } from '@latchkey/shared';
import { createSessionClient } from '@latchkey/client';
import { attachAxios } from '@latchkey/client/axios';
import { newSessionKey, RedisStore } from '@latchkey/bff/store';
import { createGuard, KeyRing } from '@latchkey/bff/guard';

if (typeof createSessionClient !== 'function' || typeof attachAxios !== 'function') throw new Error('client exports missing');
if (typeof newSessionKey !== 'function' || typeof RedisStore !== 'function') throw new Error('@latchkey/bff/store exports missing');
if (typeof createGuard !== 'function' || typeof KeyRing !== 'function') throw new Error('@latchkey/bff/guard exports missing');
const bff = await createBff({
  store: new MemoryStore({ warnInProduction: false }),
  secrets: ['scratch-app-secret-0123456789-abcdefghijklmnop'],
  tokens: { issuer: 'http://localhost' },
  dangerouslyAllowInsecureHttp: true,
  authenticate: async (username, password) =>
    username === 'alice' && password === 'wonderland' ? { id: 'user-alice', name: 'Alice', scope: 'read' } : null,
});
const app = express();
app.use('/auth', bff.router);
app.get('/api/me', bff.requireAuth({ scopes: ['read'] }), (req, res) => res.json({ sub: req.auth.sub, sid: req.auth.sid, routes: Object.keys(ROUTES).length }));
app.use(bff.errorHandler);
const server = app.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\\n'));
process.on('SIGTERM', () => void bff.close({ server }).then(() => process.exit(0)));
`;

/** The same app in TypeScript, as a user of Express 4 and @types/express 4 types it. */
const APP_TS = `
import express from 'express';
import { createBff, MemoryStore } from '@latchkey/bff';

const bff = await createBff({
  store: new MemoryStore({ warnInProduction: false }),
  secrets: ['scratch-app-secret-0123456789-abcdefghijklmnop'],
  tokens: { issuer: 'http://localhost' },
  authenticate: async () => null,
});
const app = express();
app.set('trust proxy', 'loopback');
app.use('/auth', bff.router);
app.use('/admin', bff.adminRouter());
app.get('/api/me', bff.requireAuth({ scopes: ['read'] }), (req, res) => void res.json({ sub: req.auth!.sub, scope: req.auth!.scope }));
app.use(bff.errorHandler);
const server = app.listen(0);
process.on('SIGTERM', () => void bff.close({ server, timeoutMs: 5000 }));
`;

const TSCONFIG = JSON.stringify({
  compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false },
  files: ['app.ts'],
});

const readVersion = (pkg: string) => (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

/** The three tarballs, packed once for every scratch app of this file. */
let packed: Promise<{ dir: string; tarballs: string[] }> | undefined;
function packOnce(): Promise<{ dir: string; tarballs: string[] }> {
  packed ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-pack-'));
    // prepack builds each package (tsc -b; up to date after `npm run build`, which `npm test` runs first).
    await run(npm, ['pack', '-w', 'shared', '-w', 'bff', '-w', 'client', '--pack-destination', dir, '--silent'], { cwd: root, timeout: 180_000 });
    const tarballs = readdirSync(dir)
      .filter((f) => f.endsWith('.tgz'))
      .sort();
    return { dir, tarballs };
  })();
  return packed;
}

/** A scratch app in a folder of its own: the tarballs and `packages` installed, app.mjs written. */
async function installScratch(packages: readonly string[]): Promise<string> {
  const { dir: packDir, tarballs } = await packOnce();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-scratch-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
  writeFileSync(join(dir, 'app.mjs'), APP);
  await run(npm, ['install', ...tarballs.map((t) => join(packDir, t)), ...packages, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    timeout: 240_000,
  });
  return dir;
}

/** Starts the scratch app; resolves with its base URL once it listens. */
function startScratchApp(dir: string): { child: ChildProcess; base: Promise<string> } {
  const child = spawn(process.execPath, ['app.mjs'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => void (output += d.toString()));
  const base = new Promise<string>((resolvePort, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) resolvePort(`http://127.0.0.1:${match[1]}`);
    });
    child.once('exit', (code) => reject(new Error(`scratch app exited (${code}):\n${output}`)));
  });
  return { child, base };
}

/** What a new user does first: sign in, refresh, call a guarded route. */
async function loginRefreshAndCall(base: string): Promise<void> {
  const headers = { 'X-CSRF': '1', 'Content-Type': 'application/json' };
  const login = await fetch(`${base}/auth/login`, { method: 'POST', headers, body: JSON.stringify({ username: 'alice', password: 'wonderland' }) });
  expect(login.status).toBe(200);
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  expect(cookie).toMatch(/^latchkey=/);
  const refresh = await fetch(`${base}/auth/refresh`, { method: 'POST', headers: { ...headers, Cookie: cookie }, body: '{}' });
  expect(refresh.status).toBe(200);
  const { accessToken, session } = (await refresh.json()) as { accessToken: string; session: { id: string } };
  const me = await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${accessToken}` } });
  expect(me.status).toBe(200);
  expect(await me.json()).toEqual({ sub: 'user-alice', sid: session.id, routes: expect.any(Number) });
}

afterAll(async () => {
  const dir = packed ? (await packed).dir : undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let scratch: string;
let child: ChildProcess | undefined;
let base: string;

describe('npm pack: the published packages work in a scratch app', () => {
  beforeAll(async () => {
    expect((await packOnce()).tarballs).toEqual(['latchkey-bff-0.1.0.tgz', 'latchkey-client-0.1.0.tgz', 'latchkey-shared-0.1.0.tgz']);
    scratch = await installScratch([`express@${readVersion('express')}`, `axios@${readVersion('axios')}`]);
    const started = startScratchApp(scratch);
    child = started.child;
    base = await started.base;
  }, 480_000);

  afterAll(() => {
    child?.kill('SIGTERM');
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('login, refresh and a guarded call work against the installed tarballs', async () => {
    await loginRefreshAndCall(base);
  });

  it('a CommonJS app can require() the packages (require(esm): no top-level await anywhere in their graphs)', async () => {
    const script = [
      "const bff = require('@latchkey/bff');",
      "const client = require('@latchkey/client');",
      "const shared = require('@latchkey/shared');",
      "const store = require('@latchkey/bff/store');",
      "const guard = require('@latchkey/bff/guard');",
      "process.stdout.write([typeof bff.createBff, typeof client.createSessionClient, typeof shared.ROUTES, typeof store.newSessionKey, typeof guard.createGuard].join(' '));",
    ].join('\n');
    writeFileSync(join(scratch, 'require.cjs'), script);
    const { stdout } = await run(process.execPath, ['require.cjs'], { cwd: scratch });
    expect(stdout).toBe('function function object function function');
  });

  it("@latchkey/bff's public types never reach express-session, which is no dependency of it (it would type req.session in the app)", () => {
    const dir = join(scratch, 'node_modules/@latchkey/bff');
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).not.toContain('@types/express-session');
    expect(existsSync(join(scratch, 'node_modules/@types/express-session'))).toBe(false);
    const seen = new Set<string>();
    const reaching: string[] = [];
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      if (text.includes("'express-session'")) reaching.push(file);
      for (const match of text.matchAll(/from '(\.[^']+)'|import\('(\.[^']+)'\)/g))
        walk(resolve(dirname(file), (match[1] ?? match[2])!.replace(/\.js$/, '.d.ts')));
    };
    for (const entry of ['index', 'store/index', 'guard/index']) walk(join(dir, `dist/${entry}.d.ts`));
    expect(seen.size).toBeGreaterThan(10);
    expect(reaching).toEqual([]);
  });

  it('ships LICENSE, README and source maps whose sources are in the package', () => {
    for (const name of ['shared', 'bff', 'client']) {
      const dir = join(scratch, 'node_modules/@latchkey', name);
      expect(existsSync(join(dir, 'LICENSE')), `${name} LICENSE`).toBe(true);
      expect(existsSync(join(dir, 'README.md')), `${name} README.md`).toBe(true);
      const maps = readdirSync(join(dir, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js.map'));
      expect(maps.length).toBeGreaterThan(0);
      for (const map of maps) {
        const { sources } = JSON.parse(readFileSync(join(dir, 'dist', map), 'utf8')) as { sources: string[] };
        for (const source of sources) expect(existsSync(resolve(dirname(join(dir, 'dist', map)), source)), `${name}/dist/${map} → ${source}`).toBe(true);
      }
    }
  });
});

describe('npm pack: the scratch app on Express 4 (the peer range is ^4.21.0 || ^5.0.0)', () => {
  let dir: string;
  let app: ChildProcess | undefined;
  let url: string;

  beforeAll(async () => {
    // npm refuses the install (ERESOLVE) when the peer range leaves Express 4 out.
    dir = await installScratch([`express@${readVersion('express4')}`, '@types/express@^4.17.21']);
    const started = startScratchApp(dir);
    app = started.child;
    url = await started.base;
  }, 480_000);

  afterAll(() => {
    app?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installed Express 4 for the app and the BFF alike', () => {
    const version = (JSON.parse(readFileSync(join(dir, 'node_modules/express/package.json'), 'utf8')) as { version: string }).version;
    expect(version).toMatch(/^4\./);
    expect(existsSync(join(dir, 'node_modules/@latchkey/bff/node_modules/express'))).toBe(false);
  });

  it('login, refresh and a guarded call work', async () => {
    await loginRefreshAndCall(url);
  });

  it('errors raised in async handlers are answered, not left hanging (Express 4 ignores rejected promises)', async () => {
    const signal = AbortSignal.timeout(5000);
    const events = await fetch(`${url}/auth/events`, { signal });
    expect(events.status).toBe(401);
    expect(await events.json()).toMatchObject({ error: 'no_session' });
    const introspect = await fetch(`${url}/auth/introspect`, { method: 'POST', signal });
    expect(introspect.status).toBe(404);
    const guarded = await fetch(`${url}/api/me`, { headers: { Authorization: 'Bearer not-a-token' }, signal });
    expect(guarded.status).toBe(401);
    expect(await guarded.json()).toMatchObject({ error: 'invalid_token' });
    expect((await fetch(`${url}/auth/readyz`, { signal })).status).toBe(200);
  });

  it('an app typed with @types/express 4 compiles against the published declarations (skipLibCheck off)', async () => {
    writeFileSync(join(dir, 'app.ts'), APP_TS);
    writeFileSync(join(dir, 'tsconfig.json'), TSCONFIG);
    await expect(run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir })).resolves.toBeDefined();
  }, 180_000);

  it('SIGTERM drains through bff.close({ server }) and the process exits', async () => {
    const exited = new Promise<number | null>((resolveExit) => app!.once('exit', (code) => resolveExit(code)));
    app!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
