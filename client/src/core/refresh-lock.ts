/**
 * Runs `task` while holding a browser-wide Web Lock, so one tab refreshes at a time. The task learns
 * whether it had to wait for another tab (which then probably refreshed and is broadcasting the token).
 * Without Web Locks (old browsers, tests, SSR) the task runs at once: single-tab behaviour.
 */
export function withRefreshLock<T>(name: string, task: (waited: boolean) => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  if (!locks) return task(false);
  // request() resolves with what the task resolves with; its typing nests the promise.
  return locks.request(name, { ifAvailable: true }, (lock) => (lock ? task(false) : locks.request(name, () => task(true)))) as unknown as Promise<T>;
}

/**
 * Holds a shared Web Lock for as long as this tab has a token; the returned function lets go. A starting tab counts
 * these holders to learn whether any tab could hand a token over, instead of guessing from a short timeout.
 */
export function holdPresence(name: string): () => void {
  let release: () => void;
  void globalThis.navigator?.locks?.request(name, { mode: 'shared' }, () => new Promise<void>((r) => (release = r)));
  return () => release?.();
}

/** How many tabs hold presence; null without Web Locks. */
export async function countPresence(name: string): Promise<number | null> {
  const locks = globalThis.navigator?.locks;
  return locks?.query ? (await locks.query()).held!.filter((l) => l.name == name).length : null;
}
