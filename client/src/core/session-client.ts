import type { TokenResponse } from '@latchkey/shared';
import { createClient, type Routes } from './client.js';
import { holdToken } from './held-token.js';
import { invalid } from './options.js';
import { countPresence, holdPresence, withRefreshLock } from './refresh-lock.js';
import type { SessionClient, SessionClientOptions } from './types.js';

/**
 * The session state machine of one page. Everything lives in closures (no module state), tokens only in memory. Every
 * state change is a named action through `reduce` (reducer.ts); client.ts does what follows from it (timers, tab
 * messages, events), this file what is token mode's own: the refresh lock, the tab hand-over, activity. Status starts
 * at 'loading' and is settled by the first refresh, or by a token another tab hands over.
 */
export const createSessionClient = ({ mode, ...input }: SessionClientOptions & { mode?: 'token' } = {}): SessionClient => {
  // `mode: 'token'` is this mode, and the default; proxy mode is `@latchkey/client/proxy`. A developer's mistake:
  // checked in development only, like every option (options.ts).
  if (typeof process == 'object' && process.env.NODE_ENV != 'production' && mode && mode != 'token') invalid('mode');
  return createClient(input, (options, get, set, request, exchange, refresh, post) => {
    const { channelName } = options;
    const lockName = channelName + ':refresh';
    const presenceName = channelName + ':holder';
    // Ends a wait for the other tabs as soon as one of them hands over a token or signs out.
    let handedOver: (() => void) | undefined;
    // Lets go of this tab's presence lock (held while it has a token).
    let releasePresence: (() => void) | undefined;

    const isFresh = (held = get().token) => !!held && Date.now() < held.refreshAt;

    /** Real use of the page (input, an API call): recorded, and told to the other tabs, at most once a second. */
    const active = () => {
      const at = Date.now();
      if (at - get().activeAt >= 1000) set({ type: 'active', at }, true);
    };

    return {
      run(stale) {
        const startedIn = get().epoch;
        // Settled: the session changed meanwhile, or another tab delivered a fresh token.
        const settled = () => get().epoch != startedIn || (isFresh() && get().token!.accessToken != stale);
        return withRefreshLock(lockName, async (waited) => {
          // Under the lock, before spending a refresh, ask the tabs that hold a token: a starting tab (no token yet), or
          // one whose token is stale or that waited for the lock, may find that another tab has just refreshed: it held
          // the lock, or released it just before we took it while its broadcast is still on the way (the lock grant and
          // the message travel separately). Asking first and taking the lock after would leave that gap open.
          // When Web Locks show that another tab holds a token, the wait is long (its answer may be slow on a busy
          // machine); when none does, there is nothing to wait for.
          if ((waited || !isFresh()) && !settled()) {
            const own = releasePresence ? 1 : 0;
            const holders = await countPresence(presenceName);
            if (holders !== own && post({ type: 'ask' })) {
              await new Promise((resolve) => {
                handedOver = resolve as () => void;
                setTimeout(resolve, options.handoverWaitMs * (holders! > own ? 10 : 1));
              });
              handedOver = undefined;
            }
          }
          // The browser's idle time (every tab's activity), for the BFF's idle timeout; never below 0 (a clock set back).
          if (!settled())
            await exchange('POST', '/refresh' satisfies Routes['refresh'], { idleSeconds: Math.max(0, ((Date.now() - get().activeAt) / 1000) | 0) });
        });
      },
      take: ({ data, serverNow }) => set({ type: 'token', view: holdToken(data as TokenResponse, serverNow, options.refreshMarginMs) }, true),
      tab({ data }) {
        const m = Object(data);
        const { type, view } = m;
        if (type == 'ask') {
          if (isFresh()) post({ type: 'token', view: get().token });
        }
        // Only this mode's kinds, each with the fields it carries (ASVS 3.5.5): not a proxy-mode page's 'in' (same
        // origin, same channel name: the demo and its admin console), nor anything else.
        else if (
          type == 'out'
            ? typeof m.reason == 'string'
            : type == 'active'
              ? typeof m.at == 'number'
              : type == 'token' &&
                typeof view?.accessToken == 'string' &&
                typeof view.session?.id == 'string' &&
                typeof view.expiresAt == 'number' &&
                typeof view.refreshAt == 'number'
        )
          set(m);
      },
      // An application's call (its API client asks for the token): activity, unlike the client's own refreshes.
      async getAccessToken() {
        active();
        const held = get().token;
        if (isFresh(held)) return held!.accessToken;
        try {
          return await refresh();
        } catch (error) {
          // The BFF is unreachable, but a token that has not expired yet still works.
          if (held && Date.now() < held.expiresAt) return held.accessToken;
          throw error;
        }
      },
      input: active,
      after(type) {
        // Presence is held while this tab has a token (and runs).
        if (type == 'token') releasePresence ||= holdPresence(presenceName);
        if (type == 'out' || type == 'destroy') {
          releasePresence?.();
          releasePresence = undefined;
        }
        if (type == 'token' || type == 'out') handedOver?.();
      },
      lock: (task) => withRefreshLock(lockName, task),
    };
  });
};
