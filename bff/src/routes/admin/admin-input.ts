import type { Request } from 'express';
import { z } from 'zod';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import { tenantSchema } from '../../tokens/custom-claims.js';

/** Public session ids, as the session routes accept them. */
const SID_FORMAT = /^[A-Za-z0-9_-]{1,64}$/;

// Ids are the application's (user ids, OIDC `iss|sub`, tenant names): any text, bounded, no control characters.
const identifier = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^\P{Cc}+$/u, 'no control characters');

export const userIdParam = z.strictObject({ userId: identifier(1024) });
export const userSessionParams = z.strictObject({ userId: identifier(1024), sid: z.string().regex(SID_FORMAT, 'not a session id') });
export const tenantParam = z.strictObject({ tenant: tenantSchema });
/** Routes that take no body accept none or `{}`; anything else is a client's mistake worth saying so. */
export const emptyBody = z.strictObject({});

/** Seconds since the epoch; above 1e11 it is milliseconds (see admin.revokeAccessToken). */
const expSeconds = z.number().int().nonnegative().max(1e11, 'exp is in seconds since the epoch');

export function revokeTokenBody(maxTokenBytes: number) {
  return z.union([
    /** The token itself: verified first, so only a token of this deployment names a jti. */
    z.strictObject({ token: z.string().min(1).max(maxTokenBytes) }),
    /** Its `jti` and `exp` claims (exp optional: the entry then lives as long as the longest token can). */
    z.strictObject({ jti: z.string().min(1).max(256), exp: expSeconds.optional() }),
  ]);
}

/** Parses path parameters or a body; a mismatch is a 400 naming the offending fields, never their values. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields = [...new Set(parsed.error.issues.flatMap((issue) => fieldsOf(issue)))].join(', ');
  throw new LatchkeyError('invalid_request', `Invalid ${what} (${fields || 'body'}).`);
}

function fieldsOf(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') return issue.keys;
  if (issue.code === 'invalid_union') return issue.errors.flat().flatMap((inner) => fieldsOf(inner));
  return [issue.path.join('.') || 'body'];
}

/** Express's decoded path parameters, as a plain object for the schemas. */
export const paramsOf = (req: Request): Record<string, string> => ({ ...req.params }) as Record<string, string>;
