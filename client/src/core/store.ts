import { INITIAL_STATE, reduce, type Action, type ClientState } from './reducer.js';
import type { SessionSnapshot } from './types.js';

export interface Store {
  get(): ClientState;
  /** The snapshot's fields of the state, frozen: the same object until one of them changes (React re-renders on a new one). */
  snapshot(): SessionSnapshot;
  /** Applies `action` through `reduce` and returns the state before it; subscribers hear of a new snapshot only. */
  dispatch(action: Action): ClientState;
  subscribe(listener: () => void): () => void;
}

/** The snapshot's fields of a state: everything but the client's own (the token above all). */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- named to be left out
export function pick({ token, epoch, failures, ended, activeAt, ...snapshot }: ClientState): SessionSnapshot {
  return Object.freeze(snapshot);
}

/** The one place a client's state changes (as TanStack Query's `#dispatch`): every change is a named action. */
export function createStore(): Store {
  // Creating the client is the page loading: the user's doing, so it counts as activity.
  let state: ClientState = { ...INITIAL_STATE, activeAt: Date.now() };
  let snapshot = pick(state);
  const listeners = new Set<() => void>();
  return {
    get: () => state,
    snapshot: () => snapshot,
    dispatch(action) {
      const before = state;
      const next = pick((state = reduce(state, action)));
      for (const key in next) {
        if (next[key as keyof SessionSnapshot] !== snapshot[key as keyof SessionSnapshot]) {
          snapshot = next;
          listeners.forEach((listener) => listener());
          break;
        }
      }
      return before;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
