import { useCallback, useState } from 'react';
import { describeError } from './describe-error.js';

export interface ActionOutcome {
  ok: boolean;
  text: string;
}

/** One card's action: pending while it runs, then its result or its error as a sentence. */
export function useAction() {
  const [pending, setPending] = useState(false);
  const [outcome, setOutcome] = useState<ActionOutcome | null>(null);
  const run = useCallback(async <T>(action: () => Promise<T>, describe: (value: T) => string): Promise<T | undefined> => {
    setPending(true);
    setOutcome(null);
    try {
      const value = await action();
      setOutcome({ ok: true, text: describe(value) });
      return value;
    } catch (error) {
      setOutcome({ ok: false, text: describeError(error) });
      return undefined;
    } finally {
      setPending(false);
    }
  }, []);
  return { pending, outcome, run, clear: () => setOutcome(null) };
}
