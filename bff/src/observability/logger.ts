import { pino, type Logger } from 'pino';

/** Headers that carry credentials; matched in any letter case by `redactHeadersAnyCase`. */
const SECRET_HEADERS = Object.freeze(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
const HEADER_CONTAINERS = Object.freeze(['req.headers', 'res.headers', 'request.headers', 'response.headers', 'headers']);
/** Node lower-cases incoming header names, but applications log hand-built ones (`Authorization`, axios configs). */
const spellings = (name: string): string[] => [
  ...new Set([name, name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()), name.toUpperCase()]),
];

/**
 * Paths redacted from anything logged, as a second line of defence: Latchkey code logs only ids and outcomes,
 * but an application may pass request objects to the same logger.
 */
export const REDACT_PATHS = Object.freeze([
  'password',
  '*.password',
  'req.body.password',
  'request.body.password',
  'accessToken',
  '*.accessToken',
  'token',
  '*.token',
  'cookie',
  '*.cookie',
  ...HEADER_CONTAINERS.flatMap((container) => SECRET_HEADERS.flatMap(spellings).map((header) => `${container}[${JSON.stringify(header)}]`)),
]);

const REDACTED = '[Redacted]';

const isPlainRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function scrubHeaders(headers: Record<string, unknown>): Record<string, unknown> | null {
  const secret = Object.keys(headers).filter((name) => SECRET_HEADERS.includes(name.toLowerCase()));
  if (secret.length === 0) return null;
  const copy: Record<string, unknown> = { ...headers };
  for (const name of secret) copy[name] = REDACTED;
  return copy;
}

/**
 * pino's redaction paths are case-sensitive; this catches the credential headers of a logged `headers` object (top
 * level or under `req`, `res`, ...) in any other spelling (`AUTHORIZATION`, `cOOKIE`). Copies, never mutates.
 */
export function redactHeadersAnyCase(object: Record<string, unknown>): Record<string, unknown> {
  let result = object;
  for (const [key, value] of Object.entries(object)) {
    if (!isPlainRecord(value)) continue;
    const headers = key === 'headers' ? value : isPlainRecord(value.headers) ? value.headers : null;
    if (headers === null) continue;
    const scrubbed = scrubHeaders(headers);
    if (scrubbed === null) continue;
    if (result === object) result = { ...object };
    result[key] = key === 'headers' ? scrubbed : Object.assign(Object.create(Object.getPrototypeOf(value) as object) as object, value, { headers: scrubbed });
  }
  return result;
}

/** The redaction both the default logger and tests use. */
export const LOGGER_REDACTION = Object.freeze({
  redact: { paths: [...REDACT_PATHS], censor: REDACTED },
  formatters: { log: redactHeadersAnyCase },
});

export function createDefaultLogger(): Logger {
  return pino({ name: 'latchkey', level: process.env.LATCHKEY_LOG_LEVEL ?? 'info', ...LOGGER_REDACTION });
}
