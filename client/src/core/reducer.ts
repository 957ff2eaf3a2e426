import type { SignOutReason } from '@latchkey/shared';
import type { HeldToken } from './held-token.js';
import type { SessionError } from './session-error.js';
import type { InitialSession, SessionSnapshot } from './types.js';

/**
 * Everything a client knows, changed only by `reduce`: the snapshot's fields (what the UI sees, picked out by `pick`:
 * never the token) and the client's own.
 */
export interface ClientState extends SessionSnapshot {
  /** Token mode: the access token, in memory only. */
  readonly token?: HeldToken;
  /** Bumped whenever the session ends or changes hands: an answer to a request sent before must not apply. */
  readonly epoch: number;
  /** Failed attempts to reach the BFF in a row: the backoff's exponent. */
  readonly failures: number;
  /** The session whose token ended here: a late answer from another tab must never bring it back. */
  readonly ended?: string;
  /** The latest real user activity any tab of this browser saw (epoch ms): input, app API calls, never timers. */
  readonly activeAt: number;
}

/**
 * What happened, by name. `token`, `in`, `out` and `active` are also what the tabs tell each other: a change this tab
 * shares is posted as it is.
 */
export type Action =
  /** Token mode: a token from the BFF (refresh, login) or from another tab. */
  | { type: 'token'; view: HeldToken }
  /** Proxy mode: a session from the BFF (login, GET /session) or from another tab. No token. */
  | { type: 'in'; view: InitialSession }
  /** The session ended (`reason` null: there was none to restore). */
  | { type: 'out'; reason: SignOutReason | null }
  /** The BFF could not be reached (network error, 5xx): signed in as before, retried with backoff. */
  | { type: 'unreachable' }
  /** The BFF refuses this page (403 csrf_rejected): a configuration error, not an outage. */
  | { type: 'rejected'; error: SessionError }
  /** The session the server rendered with (applied only while loading). */
  | { type: 'hydrated'; initial: InitialSession | null }
  /** Real user activity at `at` (this tab or another). */
  | { type: 'active'; at: number };

export const INITIAL_STATE: ClientState = {
  status: 'loading',
  user: null,
  session: null,
  unreachable: false,
  signOutReason: null,
  error: null,
  epoch: 0,
  failures: 0,
  activeAt: 0,
};

/** The snapshot's fields of a state, frozen: everything but the client's own (the token above all). */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- named to be left out
export const pick = ({ token, epoch, failures, ended, activeAt, ...snapshot }: ClientState): SessionSnapshot => Object.freeze(snapshot);

/**
 * Pure: the state after `action` (`fromTab`: told by another tab); the same object when the action changes nothing (the
 * caller then has nothing to do).
 */
export const reduce = (state: ClientState, action: Action, fromTab?: boolean): ClientState => {
  const { status, token, activeAt, epoch } = state;
  switch (action.type) {
    case 'active':
      return action.at > activeAt ? { ...state, activeAt: action.at } : state;
    case 'unreachable':
      return { ...state, unreachable: true, failures: state.failures + 1 };
    case 'rejected':
      // Nothing to restore while the BFF refuses every request: settle, so the page shows its signed-out view and the error.
      return { ...state, status: status == 'loading' ? 'unauthenticated' : status, unreachable: false, error: action.error };
    case 'hydrated':
      return status == 'loading' ? reduce(state, action.initial ? { type: 'in', view: action.initial } : { type: 'out', reason: null }) : state;
    case 'out':
      return status == 'unauthenticated'
        ? state
        : { ...INITIAL_STATE, activeAt, status: 'unauthenticated', signOutReason: action.reason, epoch: epoch + 1, ended: token?.session.id };
  }
  const { view } = action;
  const same = state.session?.id == view.session.id;
  // Never revive a session that ended here; several tabs may answer one 'ask': keep the newest token.
  return view.session.id == state.ended || (fromTab && same && token && (view as HeldToken).expiresAt <= token.expiresAt)
    ? state
    : {
        ...INITIAL_STATE,
        activeAt,
        status: 'authenticated',
        // Same session: keep the snapshot's user and session objects, so a refresh does not change the snapshot.
        // user and session only: `bff.getSession`'s answer also carries claims, which the page has no use for.
        user: same ? state.user : view.user,
        session: same ? state.session : view.session,
        token: action.type == 'token' ? action.view : undefined,
        epoch: epoch + (same ? 0 : 1),
      };
};
