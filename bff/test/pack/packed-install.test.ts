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
  issuer: 'http://localhost',
  dangerouslyAllowInsecureHttp: true,
  authenticate: async (username, password) =>
    username === 'alice' && password === 'wonderland' ? { id: 'user-alice', name: 'Alice', scope: 'read' } : null,
});
const app = express();
app.use('/auth', bff.router);
app.get('/api/me', bff.requireAuth({ scopes: ['read'] }), (req, res) => res.json({ sub: req.auth.sub, sid: req.auth.sid, routes: Object.keys(ROUTES).length }));
app.use(bff.errorHandler);
const server = app.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\\n'));
process.on('SIGTERM', () => { bff.close(); server.close(); server.closeAllConnections(); });
`;

let scratch: string;
let child: ChildProcess | undefined;
let base: string;

describe('npm pack: the published packages work in a scratch app', () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'latchkey-pack-'));
    // prepack builds each package (tsc -b; up to date after `npm run build`, which `npm test` runs first).
    await run(npm, ['pack', '-w', 'shared', '-w', 'bff', '-w', 'client', '--pack-destination', scratch, '--silent'], { cwd: root, timeout: 180_000 });
    const tarballs = readdirSync(scratch)
      .filter((f) => f.endsWith('.tgz'))
      .sort();
    expect(tarballs).toEqual(['latchkey-bff-0.1.0.tgz', 'latchkey-client-0.1.0.tgz', 'latchkey-shared-0.1.0.tgz']);
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
    writeFileSync(join(scratch, 'app.mjs'), APP);
    const axiosVersion = (JSON.parse(readFileSync(join(root, 'node_modules/axios/package.json'), 'utf8')) as { version: string }).version;
    const expressVersion = (JSON.parse(readFileSync(join(root, 'node_modules/express/package.json'), 'utf8')) as { version: string }).version;
    await run(
      npm,
      [
        'install',
        ...tarballs.map((t) => `./${t}`),
        `express@${expressVersion}`,
        `axios@${axiosVersion}`,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      { cwd: scratch, timeout: 240_000 },
    );

    child = spawn(process.execPath, ['app.mjs'], { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr!.on('data', (d: Buffer) => void (output += d.toString()));
    base = await new Promise<string>((resolvePort, reject) => {
      child!.stdout!.on('data', (d: Buffer) => {
        output += d.toString();
        const match = /listening (\d+)/.exec(output);
        if (match) resolvePort(`http://127.0.0.1:${match[1]}`);
      });
      child!.once('exit', (code) => reject(new Error(`scratch app exited (${code}):\n${output}`)));
    });
  }, 480_000);

  afterAll(() => {
    child?.kill('SIGTERM');
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('login, refresh and a guarded call work against the installed tarballs', async () => {
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
