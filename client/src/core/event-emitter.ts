export interface EventEmitter<M> {
  on<E extends keyof M>(event: E, listener: (detail: M[E]) => void): () => void;
  emit<E extends keyof M>(event: E, detail: M[E]): void;
}

export function createEventEmitter<M>(): EventEmitter<M> {
  const listeners = new Map<keyof M, Set<(detail: never) => void>>();
  return {
    on(event, listener) {
      const set = listeners.get(event) || new Set();
      listeners.set(event, set.add(listener));
      return () => void set.delete(listener);
    },
    emit(event, detail) {
      listeners.get(event)?.forEach((listener) => {
        try {
          listener(detail as never);
        } catch (error) {
          // A throwing listener must not break the session state machine; surface it asynchronously.
          setTimeout(() => {
            throw error;
          });
        }
      });
    },
  };
}
