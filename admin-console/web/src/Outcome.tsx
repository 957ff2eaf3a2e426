import type { ActionOutcome } from './use-action.js';

/** The result of the card's last action: a status line, or an alert for an error. */
export function Outcome({ outcome, testId }: { outcome: ActionOutcome | null; testId: string }) {
  if (!outcome) return null;
  return (
    <p className={outcome.ok ? 'result ok' : 'result form-error'} role={outcome.ok ? 'status' : 'alert'} data-testid={testId} data-ok={outcome.ok}>
      {outcome.text}
    </p>
  );
}
