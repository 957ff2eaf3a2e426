/**
 * Resolves after `ms`. For pacing loops and polling intervals; a test waits for an event or a clock, never a fixed
 * sleep.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
