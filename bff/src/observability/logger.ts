import { pino, type Logger } from 'pino';

/**
 * Paths redacted from anything logged, as a second line of defence: Latchkey code logs only ids and outcomes,
 * but an application may pass request objects to the same logger.
 */
export const REDACT_PATHS = Object.freeze([
  'password',
  '*.password',
  'accessToken',
  '*.accessToken',
  'token',
  '*.token',
  'cookie',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
]);

export function createDefaultLogger(): Logger {
  return pino({ name: 'latchkey', level: process.env.LATCHKEY_LOG_LEVEL ?? 'info', redact: [...REDACT_PATHS] });
}
