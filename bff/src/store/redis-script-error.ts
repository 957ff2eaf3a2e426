/**
 * A Lua script failed while running: a runtime or compile error, or a command it called refused what it was given
 * (WRONGTYPE on a key of the wrong shape). Retrying cannot help and Redis is up, so this is a bug (of the script, or
 * of data it did not expect), never StoreUnavailableError: the edge answers 500 `internal_error` and logs it as
 * such, rather than a 503 that tells clients and dashboards to wait for an outage to pass.
 */
export class RedisScriptError extends Error {
  override readonly name = 'RedisScriptError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Codes Redis answers for its own state, even from inside a script: an outage (or a failover), not a bug. */
const OPERATIONAL = new Set(['OOM', 'READONLY', 'MASTERDOWN', 'NOREPLICAS', 'LOADING', 'BUSY', 'CLUSTERDOWN', 'TRYAGAIN', 'MOVED', 'ASK']);

/** Whether a reply error was raised by a script run (Redis 7 tags those with `user_script`; Redis 6 with "Error running script"). */
export function isScriptFailure(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return false;
  if (OPERATIONAL.has(error.message.split(' ', 1)[0]!)) return false;
  return /user_script|Error (?:running|compiling) script/.test(error.message);
}
