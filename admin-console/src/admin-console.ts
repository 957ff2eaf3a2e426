import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';

/** Where the build puts the page (vite build web). */
const APP_DIST = fileURLToPath(new URL('../dist/app', import.meta.url));

export interface AdminConsoleOptions {
  /** Where the application mounts the BFF router (the console signs the operator in there). Default `/auth`. */
  bffPath?: string;
  /** Where the application mounts `bff.adminRouter()` (the only API the console calls). Default `/admin`. */
  adminPath?: string;
  /** How often the console polls the activity feed, in ms (1000 to 60000). Default 3000. */
  feedIntervalMs?: number;
}

/**
 * The console's own Content-Security-Policy, sent only when the application sets none (an application that sets one,
 * such as the demo with helmet, serves the console under its own policy): scripts, styles and connections from this
 * origin only, no inline script, no plugins, no `<base>`, no framing.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join(';');

/** A path on this origin: the console sends the operator's token to the admin path, never to another host. */
const SAME_ORIGIN_PATH = /^\/(?!\/)[A-Za-z0-9\-._~/]*$/;

function checkPath(name: string, value: string): string {
  if (typeof value !== 'string' || !SAME_ORIGIN_PATH.test(value) || value.includes('/../') || value.endsWith('/..')) {
    throw new TypeError(`adminConsole: ${name} must be a path on this origin such as "/admin" (no scheme, host, query or "..")`);
  }
  return value.length > 1 ? value.replace(/\/+$/, '') : value;
}

function resolveOptions(options: AdminConsoleOptions) {
  const known = new Set(['bffPath', 'adminPath', 'feedIntervalMs']);
  const unknown = Object.keys(options).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new TypeError(`adminConsole: unknown option ${unknown.join(', ')}`);
  const feedIntervalMs = options.feedIntervalMs ?? 3000;
  if (!Number.isInteger(feedIntervalMs) || feedIntervalMs < 1000 || feedIntervalMs > 60_000) {
    throw new TypeError('adminConsole: feedIntervalMs must be a whole number of milliseconds from 1000 to 60000');
  }
  return Object.freeze({
    bffUrl: checkPath('bffPath', options.bffPath ?? '/auth'),
    adminUrl: checkPath('adminPath', options.adminPath ?? '/admin'),
    feedIntervalMs,
  });
}

/** Headers of every answer: the policy above unless the application set one, and what a page with a token needs. */
const pageHeaders: RequestHandler = (_req, res, next) => {
  if (!res.hasHeader('Content-Security-Policy')) res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  if (!res.hasHeader('X-Content-Type-Options')) res.setHeader('X-Content-Type-Options', 'nosniff');
  if (!res.hasHeader('Referrer-Policy')) res.setHeader('Referrer-Policy', 'no-referrer');
  if (!res.hasHeader('X-Frame-Options')) res.setHeader('X-Frame-Options', 'DENY');
  next();
};

/**
 * The operators' console as an Express router: `app.use('/admin-console', adminConsole())`. It serves the built page
 * and `config.json` (where the BFF and the admin router are); the page signs the operator in through the BFF like any
 * user and calls the admin router with the operator's access token. It holds no data and no secret of its own: what
 * an operator may see and do is decided by the admin router (docs/admin.md, "Operators' console").
 */
export function adminConsole(options: AdminConsoleOptions = {}): Router {
  const config = resolveOptions(options);
  const router = Router();
  router.use(pageHeaders);
  // Relative URLs of the page resolve against the mount path only with its trailing slash.
  router.use((req, res, next) => {
    const [path = '', query] = req.originalUrl.split('?', 2);
    if (req.path === '/' && !path.endsWith('/')) return void res.redirect(301, `${path}/${query !== undefined ? `?${query}` : ''}`);
    next();
  });
  router.get('/config.json', (_req, res) => void res.set('Cache-Control', 'no-store').json(config));
  if (existsSync(APP_DIST)) {
    // index.html names the hashed assets of its build: always revalidated; the assets themselves never change.
    router.use(
      express.static(APP_DIST, {
        index: 'index.html',
        setHeaders: (res, file) => res.setHeader('Cache-Control', file.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
      }),
    );
  } else {
    router.get('/', (_req, res) => void res.status(503).type('text').send('The operators\' console is not built. Run "npm run build" and reload.'));
  }
  return router;
}
