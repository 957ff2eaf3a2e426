/** Exponential backoff with full jitter: uniform in [0, min(max, min * 2^attempt)). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, minMs * 2 ** attempt);
}
