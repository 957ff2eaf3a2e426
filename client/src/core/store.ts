import { INITIAL_STATE, reduce, type Action, type ClientState } from './reducer.js';

export interface Store {
  get(): ClientState;
  /** Applies `action` through `reduce` and returns the state before it; subscribers hear of a new snapshot only. */
  dispatch(action: Action): ClientState;
  subscribe(listener: () => void): () => void;
}

/** The one place a client's state changes (as TanStack Query's `#dispatch`): every change is a named action. */
export function createStore(): Store {
  // Creating the client is the page loading: the user's doing, so it counts as activity.
  let state: ClientState = { ...INITIAL_STATE, activeAt: Date.now() };
  const listeners = new Set<() => void>();
  return {
    get: () => state,
    dispatch(action) {
      const before = state;
      state = reduce(state, action);
      if (state.snapshot != before.snapshot) listeners.forEach((listener) => listener());
      return before;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
