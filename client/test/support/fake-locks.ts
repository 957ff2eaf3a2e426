/** A LockManager for one "browser": exclusive locks by name, FIFO, with `ifAvailable`; shared locks; `query()`. */
export function createFakeLocks() {
  const queues = new Map<string, Array<() => void>>();
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
    optionsOrCallback: { ifAvailable?: boolean; mode?: 'shared' | 'exclusive' } | ((lock: unknown) => T),
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
    return new Promise<void>((resolve) => {
      const queue = queues.get(name) ?? [];
      queue.push(resolve);
      queues.set(name, queue);
    }).then(run);
  }

  const query = async () => ({ held: [...[...held].map((name) => ({ name, mode: 'exclusive' })), ...sharedHeld], pending: [] });

  return { request, query, grants: () => grants };
}
