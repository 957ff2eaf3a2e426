import type { SignOutReason } from '@latchkey/shared';
import type { HeldToken } from './held-token.js';
import type { SessionError } from './session-error.js';
import type { InitialSession, SessionSnapshot } from './types.js';

/** Everything a client knows, changed only by `reduce`. The snapshot is the part the UI sees; the token never is. */
export interface ClientState {
  /** A new object only when one of its fields changes. */
  readonly snapshot: SessionSnapshot;
  /** Token mode: the access token, in memory only. */
  readonly token?: HeldToken;
  /** Bumped whenever the session ends or changes hands: an answer to a request sent before must not apply. */
  readonly epoch: number;
  /** Failed attempts to reach the BFF in a row: the backoff's exponent. */
  readonly failures: number;
  /** The session that ended here: a late answer from another tab must never bring it back. */
  readonly ended?: string;
  /** The latest real user activity any tab of this browser saw (epoch ms): input, app API calls, never timers. */
  readonly activeAt: number;
}

/** What happened, by name. */
export type Action =
  /** A session from the BFF (refresh, login, GET /session), or from another tab (`fromTab`); `view` is the token in token mode. */
  | { type: 'signedIn'; view: InitialSession & Partial<HeldToken>; fromTab?: boolean }
  /** The session ended (`reason` null: there was none to restore). */
  | { type: 'signedOut'; reason: SignOutReason | null }
  /** The BFF could not be reached (network error, 5xx): signed in as before, retried with backoff. */
  | { type: 'unreachable' }
  /** The BFF refuses this page (403 csrf_rejected): a configuration error, not an outage. */
  | { type: 'rejected'; error: SessionError }
  /** The session the server rendered with (applied only while loading). */
  | { type: 'hydrated'; initial: InitialSession | null }
  /** Real user activity at `at` (this tab or another). */
  | { type: 'active'; at: number };

export const INITIAL_STATE: ClientState = {
  snapshot: Object.freeze({ status: 'loading', user: null, session: null, unreachable: false, signOutReason: null, error: null }),
  epoch: 0,
  failures: 0,
  activeAt: 0,
};

/** The snapshot with these fields, or the same object when none of them changes (React re-renders on a new object). */
function patch(snapshot: SessionSnapshot, fields: Partial<SessionSnapshot>): SessionSnapshot {
  const next = { ...snapshot, ...fields };
  for (const key in next) if (next[key as keyof SessionSnapshot] !== snapshot[key as keyof SessionSnapshot]) return Object.freeze(next);
  return snapshot;
}

/** Pure: the state after `action`; the same object when the action changes nothing (the caller then has nothing to do). */
export function reduce(state: ClientState, action: Action): ClientState {
  const { snapshot } = state;
  switch (action.type) {
    case 'signedIn': {
      const { view } = action;
      const same = snapshot.session?.id == view.session.id;
      // Never revive a session that ended here; several tabs may answer one 'ask': keep the newest token.
      if (view.session.id == state.ended || (action.fromTab && same && state.token && view.expiresAt! <= state.token.expiresAt)) return state;
      return {
        ...state,
        token: view.accessToken ? (view as HeldToken) : undefined,
        epoch: state.epoch + (same ? 0 : 1),
        failures: 0,
        ended: undefined,
        // Same session: keep the snapshot's user and session objects, so a refresh does not change the snapshot.
        snapshot: patch(
          snapshot,
          same
            ? { status: 'authenticated', unreachable: false, signOutReason: null, error: null }
            : { ...INITIAL_STATE.snapshot, status: 'authenticated', user: view.user, session: view.session },
        ),
      };
    }
    case 'signedOut':
      return snapshot.status == 'unauthenticated'
        ? state
        : {
            ...state,
            token: undefined,
            epoch: state.epoch + 1,
            failures: 0,
            ended: state.token?.session.id,
            snapshot: patch(snapshot, { ...INITIAL_STATE.snapshot, status: 'unauthenticated', signOutReason: action.reason }),
          };
    case 'unreachable':
      return { ...state, failures: state.failures + 1, snapshot: patch(snapshot, { unreachable: true }) };
    case 'rejected':
      // Nothing to restore while the BFF refuses every request: settle, so the page shows its signed-out view and the error.
      return {
        ...state,
        snapshot: patch(snapshot, { status: snapshot.status == 'loading' ? 'unauthenticated' : snapshot.status, unreachable: false, error: action.error }),
      };
    case 'hydrated': {
      const { initial } = action;
      // user and session only: `bff.getSession`'s answer also carries claims, which the page has no use for.
      return snapshot.status != 'loading'
        ? state
        : {
            ...state,
            snapshot: patch(snapshot, initial ? { status: 'authenticated', user: initial.user, session: initial.session } : { status: 'unauthenticated' }),
          };
    }
    case 'active':
      return action.at > state.activeAt ? { ...state, activeAt: action.at } : state;
  }
}
