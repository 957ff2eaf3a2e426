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

function invalid(name: string): never {
  throw new TypeError('latchkey: invalid option ' + name);
}

function toOrigin(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // not a URL: refused below
  }
  // Only a bare origin: a path here would suggest a prefix match we do not do. An opaque origin ('null': data:,
  // file:) fails this too, its href never being 'null/'.
  if (!url || url.href != url.origin + '/') invalid('apiOrigins: ' + value);
  return url.origin;
}

/** Validates once (typos included) and freezes, so nothing can change the client's behaviour later. */
export function resolveOptions(input: SessionClientOptions): ResolvedSessionClientOptions {
  const o = { ...DEFAULTS, ...input } as Record<string, unknown> & ResolvedSessionClientOptions;
  for (const key in o) {
    const value = o[key];
    if (!(key in DEFAULTS)) invalid(key);
    // `fetch` defaults to undefined: a function is its other valid type.
    else if (typeof value != typeof DEFAULTS[key as keyof SessionClientOptions] && (key != 'fetch' || typeof value != 'function')) invalid(key);
    else if (typeof value == 'number' && !(value >= 0 && value < Infinity)) invalid(key);
  }
  const bffUrl = o.bffUrl.replace(/\/+$/, '');
  if (!/^(https?:\/\/[^/]+)?(\/|$)/.test(bffUrl)) invalid('bffUrl');
  if (!o.channelName) invalid('channelName');
  if (!Array.isArray(o.apiOrigins)) invalid('apiOrigins');
  if (!o.backoffMinMs || o.backoffMaxMs < o.backoffMinMs) invalid('backoffMaxMs');
  return Object.freeze({ ...o, bffUrl, apiOrigins: Object.freeze(o.apiOrigins.map(toOrigin)) });
}
