import { isAxiosError } from 'axios';
import { SessionError } from '@latchkey/client';
import { sentenceFor } from './messages.js';

/** One sentence for the user: never a raw code (the console and the network panel keep those for whoever debugs). */
export function describeError(error: unknown): string {
  // A SessionError without a server message carries its code as the message: not for the user.
  if (error instanceof SessionError) return sentenceFor(error.code, error.message == error.code ? undefined : error.message);
  if (isAxiosError(error)) {
    if (!error.response) return sentenceFor('network_error');
    const body = error.response.data as { error?: unknown; message?: unknown } | undefined;
    const message = typeof body?.message === 'string' ? body.message : undefined;
    if (typeof body?.error === 'string') return sentenceFor(body.error, message);
    return error.response.status >= 500 ? sentenceFor('internal_error') : `The request was refused (HTTP ${error.response.status}).`;
  }
  return 'Something went wrong. Try again.';
}
