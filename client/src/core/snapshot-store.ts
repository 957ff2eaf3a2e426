import type { SessionSnapshot } from './types.js';

export interface SnapshotStore {
  get(): SessionSnapshot;
  /** Applies a patch; a new frozen snapshot (and a notification) only when a field really changes. */
  set(patch: Partial<SessionSnapshot>): void;
  subscribe(listener: () => void): () => void;
}

export const LOADING_SNAPSHOT: SessionSnapshot = Object.freeze({
  status: 'loading',
  user: null,
  session: null,
  unreachable: false,
  signOutReason: null,
});

export function createSnapshotStore(): SnapshotStore {
  let snapshot = LOADING_SNAPSHOT;
  const listeners = new Set<() => void>();
  return {
    get: () => snapshot,
    set(patch) {
      const next = { ...snapshot, ...patch };
      for (const key in next) {
        if (next[key as keyof SessionSnapshot] !== snapshot[key as keyof SessionSnapshot]) {
          snapshot = Object.freeze(next);
          listeners.forEach((listener) => listener());
          return;
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
