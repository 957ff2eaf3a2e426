/**
 * Starts something on ports taken from freePort(), again on fresh ports when a port was taken in between: a port is
 * free when asked, not when bound, and parallel test files (or other processes) may bind it first.
 */
export async function retryOnPortTaken<T>(start: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts || !isPortTaken(error)) throw error;
    }
  }
}

const isPortTaken = (error: unknown): boolean => /Address already in use|EADDRINUSE/.test(error instanceof Error ? error.message : String(error));
