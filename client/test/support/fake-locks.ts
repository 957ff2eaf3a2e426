/**
 * A LockManager for one "browser": exclusive locks by name, FIFO, with `ifAvailable` and `signal` (aborting a queued
 * request rejects it with AbortError and takes it out of the queue); shared locks; `query()`.
 */
export function createFakeLocks() {
  const queues = new Map<string, Array<() => void>>();
  const waiting = new Map<string, number>();
  const held = new Set<string>();
  const sharedHeld: Array<{ name: string; mode: 'shared' }> = [];
  let grants = 0;

  function release(name: string) {
    const next = queues.get(name)?.shift();
    if (next) next();
    else held.delete(name);
  }

  function request<T>(
    name: string,
    optionsOrCallback: { ifAvailable?: boolean; mode?: 'shared' | 'exclusive'; signal?: AbortSignal } | ((lock: unknown) => T),
    maybeCallback?: (lock: unknown) => T,
  ): Promise<T> {
    const options = typeof optionsOrCallback == 'function' ? {} : optionsOrCallback;
    const callback = (typeof optionsOrCallback == 'function' ? optionsOrCallback : maybeCallback)!;
    if (options.mode == 'shared') {
      // Only shared requests use these names here, so a shared lock is always granted at once.
      const entry = { name, mode: 'shared' as const };
      sharedHeld.push(entry);
      return Promise.resolve(callback(entry)).finally(() => sharedHeld.splice(sharedHeld.indexOf(entry), 1));
    }
    const run = async (): Promise<T> => {
      grants++;
      try {
        return await callback({ name });
      } finally {
        release(name);
      }
    };
    if (!held.has(name)) {
      held.add(name);
      return run();
    }
    if (options.ifAvailable) return Promise.resolve(callback(null));
    return new Promise<void>((resolve, reject) => {
      const queue = queues.get(name) ?? [];
      const grant = () => {
        options.signal?.removeEventListener('abort', abort);
        waiting.set(name, (waiting.get(name) ?? 1) - 1);
        resolve();
      };
      const abort = () => {
        const i = queue.indexOf(grant);
        if (i < 0) return;
        queue.splice(i, 1);
        waiting.set(name, (waiting.get(name) ?? 1) - 1);
        reject(new DOMException('The request was aborted', 'AbortError'));
      };
      options.signal?.addEventListener('abort', abort);
      queue.push(grant);
      queues.set(name, queue);
      waiting.set(name, (waiting.get(name) ?? 0) + 1);
    }).then(run);
  }

  const query = async () => ({ held: [...[...held].map((name) => ({ name, mode: 'exclusive' })), ...sharedHeld], pending: [] });

  return { request, query, grants: () => grants, isHeld: (name: string) => held.has(name), waiting: (name: string) => waiting.get(name) ?? 0 };
}
