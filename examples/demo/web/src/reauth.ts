/**
 * Step-up (RFC 9470) in the demo: an API call refused with `insufficient_user_authentication` waits here until the
 * password prompt (ReauthPrompt) has re-authenticated the session, then retries once. Cancelling the prompt rejects
 * the waiting calls with the original error.
 */
type Waiter = { resolve(): void; reject(): void };
const waiters = new Set<Waiter>();

/** Resolves after a successful re-authentication, rejects when the user cancels the prompt. */
export function afterReauthentication(): Promise<void> {
  return new Promise((resolve, reject) => void waiters.add({ resolve, reject }));
}

/** The prompt's outcome, for every call waiting on it. */
export function settleReauthentication(succeeded: boolean): void {
  for (const waiter of waiters) (succeeded ? waiter.resolve : waiter.reject)();
  waiters.clear();
}
