import { browserEnvironment } from './environment.js';
import type { ResolvedSessionClientOptions, SessionClientOptions } from './types.js';

const DEFAULTS: ResolvedSessionClientOptions = {
  bffUrl: '/auth',
  apiOrigins: [],
  refreshMarginMs: 60_000,
  fetch: undefined,
  channelName: 'latchkey',
  backoffMinMs: 1_000,
  backoffMaxMs: 60_000,
  handoverWaitMs: 150,
  requestTimeoutMs: 15_000,
  environment: browserEnvironment,
};

export const invalid = (name: string): never => {
  throw new TypeError('latchkey: invalid option ' + name);
};

/**
 * Only a bare origin: a path here would suggest a prefix match we do not do. Resolved against an opaque base, anything
 * that is not an absolute URL (and an opaque origin: data:, file:) gets the origin 'null' and fails the comparison.
 */
const toOrigin = (value: string) => {
  const { href, origin } = new URL(value, 'x:/');
  return href == origin + '/' ? origin : invalid('apiOrigins: ' + value);
};

/**
 * The checks that only catch a developer's mistake (a typo, a wrong type, a number out of range, a malformed `bffUrl`):
 * run in development and tests, and dropped from production bundles, as React drops its warnings. Bundlers (Vite,
 * webpack, Next.js, esbuild) replace `process.env.NODE_ENV`, and a minifier removes the call; without a bundler there
 * is no `process` and nothing runs. What guards where the token goes (`apiOrigins`, bare origins only) runs always.
 */
function check(o: Record<string, unknown> & ResolvedSessionClientOptions) {
  for (const key in o) {
    const value = o[key];
    // An unknown key (a typo) has no default: 'undefined' is never a valid type but for `fetch`, whose other one is a function.
    const type = typeof DEFAULTS[key as keyof SessionClientOptions];
    if (
      key == 'fetch'
        ? value && typeof value != 'function'
        : typeof value != type || (type == 'number' && !((value as number) >= 0 && (value as number) < Infinity))
    )
      invalid(key);
  }
  if (!/^(https?:\/\/[^/]+)?(\/|$)/.test(o.bffUrl)) invalid('bffUrl');
  if (!Array.isArray(o.apiOrigins)) invalid('apiOrigins');
  if (!o.backoffMinMs || o.backoffMaxMs < o.backoffMinMs) invalid('backoffMaxMs');
}

/** Validates once (typos too, in development) and freezes, so nothing can change the client's behaviour later. */
export function resolveOptions(input: SessionClientOptions): ResolvedSessionClientOptions {
  const o = { ...DEFAULTS, ...input } as Record<string, unknown> & ResolvedSessionClientOptions;
  // Spelled out here (not a shared constant): a minifier only removes the call when it sees the comparison in place.
  if (typeof process == 'object' && process.env.NODE_ENV != 'production') check(o);
  return Object.freeze({ ...o, bffUrl: o.bffUrl.replace(/\/+$/, ''), apiOrigins: Object.freeze(o.apiOrigins.map(toOrigin)) });
}
