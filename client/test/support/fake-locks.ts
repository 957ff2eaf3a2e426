/** A LockManager for one "browser": exclusive locks by name, FIFO, with `ifAvailable`. */
export function createFakeLocks() {
  const queues = new Map<string, Array<() => void>>();
  const held = new Set<string>();
  let grants = 0;

  function release(name: string) {
    const next = queues.get(name)?.shift();
    if (next) next();
    else held.delete(name);
  }

  function request<T>(
    name: string,
    optionsOrCallback: { ifAvailable?: boolean } | ((lock: unknown) => T),
    maybeCallback?: (lock: unknown) => T,
  ): Promise<T> {
    const options = typeof optionsOrCallback == 'function' ? {} : optionsOrCallback;
    const callback = (typeof optionsOrCallback == 'function' ? optionsOrCallback : maybeCallback)!;
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

  return { request, grants: () => grants };
}
