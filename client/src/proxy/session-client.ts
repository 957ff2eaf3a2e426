import type { CurrentSessionResponse, ROUTES as ALL_ROUTES } from '@latchkey/shared';
import { createClient, ignore } from '../core/client.js';
import type { SessionClient, SessionClientOptions } from '../core/types.js';

/** Proxy mode's options: token mode's, with `mode: 'proxy'` required (apiOrigins name where the axios adapter sends `X-CSRF`). */
export interface ProxySessionClientOptions extends Omit<SessionClientOptions, 'refreshMarginMs' | 'handoverWaitMs'> {
  mode: 'proxy';
}

/** GET /session, spelled out (typed against ROUTES): a key added to BROWSER_ROUTES would cost token mode's bundle too. */
const CURRENT_SESSION: typeof ALL_ROUTES.currentSession = '/session';

/**
 * Proxy mode's session client (docs/proxy.md): the page never holds, asks for or receives a token. `GET /session` is
 * the source of truth (it also slides the credential on the BFF's schedule); APIs are reached through the BFF's proxy
 * with the cookie. Only the BFF's definitive 401 ends the session; network errors and 5xx keep the user signed in and
 * retry with backoff. No refresh lock: the browser never rotates anything itself. Everything but how a session is
 * asked for and held is shared with token mode (core/client.ts), state changes included (core/reducer.ts).
 */
export const createSessionClient = ({ mode, ...rest }: ProxySessionClientOptions): SessionClient => {
  if (mode != 'proxy') throw new TypeError('latchkey: invalid option mode');
  return createClient(rest, (_options, _get, set, _request, exchange) => ({
    /** Asks GET /session: the session goes on, or the BFF's definitive 401 ends it. Never a token. */
    run: () => exchange('GET', CURRENT_SESSION),
    // A BFF with tokens.browser: false answers no token; one that still does is never read here, nor told to the tabs.
    take: ({ data }) => set({ type: 'in', view: { user: (data as CurrentSessionResponse).user, session: (data as CurrentSessionResponse).session } }, true),
    tab({ data }) {
      const m = Object(data);
      // Only its own kinds, each with the fields it carries (ASVS 3.5.5): a token-mode page of the same origin and
      // channel name also speaks here ('ask', 'token', 'active').
      if (m.type == 'out' ? typeof m.reason == 'string' : m.type == 'in' && typeof m.view?.session?.id == 'string' && typeof m.view.user == 'object') set(m);
    },
    getAccessToken: async () => null,
    // No activity to report: the BFF sees this page's API calls itself, through its proxy.
    input: ignore,
    after: ignore,
    lock: (task) => task(),
  }));
};
