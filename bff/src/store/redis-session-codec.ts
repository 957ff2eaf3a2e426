import { z } from 'zod';
import { isSessionEndReason } from '@latchkey/shared';
import type { DeviceSessionRecord, IdpLink, RotateResult } from './types.js';

/**
 * How a device session is stored in a Redis hash (flat string fields) and read back from script replies.
 */

/** Validated once at createSession: everything written must read back as the same record, and times must be integers for PEXPIREAT. */
const epochMs = z.number().int().nonnegative();
export const recordSchema = z.strictObject({
  key: z.string().min(1),
  sid: z.string().min(1),
  userId: z.string().min(1),
  userName: z.string(),
  deviceName: z.string(),
  userAgent: z.string(),
  createdAt: epochMs,
  rotatedAt: epochMs,
  lastActivityAt: epochMs,
  idleExpiresAt: epochMs,
  absoluteExpiresAt: epochMs,
  generation: z.number().int().nonnegative(),
  credentialHash: z.string().min(1),
  previousHash: z.string().min(1).nullable(),
  successorSealed: z.string().min(1).nullable(),
  graceUntil: epochMs,
  claims: z.record(z.string(), z.json()).optional(),
  tenant: z.string().min(1).optional(),
  authTime: epochMs.optional(),
  acr: z.string().min(1).max(256).optional(),
  amr: z.array(z.string().min(1).max(64)).max(16).optional(),
  loginName: z.string().min(1).max(256).optional(),
  idp: z
    .strictObject({
      iss: z.string().min(1),
      sub: z.string().min(1),
      sid: z.string().min(1).nullable(),
      refreshTokenSealed: z.string().min(1).nullable(),
      idTokenSealed: z.string().min(1).nullable(),
      accessTokenSealed: z.string().min(1).nullable().optional(),
      accessExpiresAt: epochMs,
    })
    .optional(),
});

export const limitsSchema = z.object({
  maxSessionsPerUser: z.number().int().positive(),
  now: epochMs,
  markerTtlMs: z.number().nonnegative(),
});

/** The hash fields an IdpLink is stored in (flat, so scripts can read `idpIss`/`idpSid` directly). */
export const IDP_FIELDS = {
  iss: 'idpIss',
  sub: 'idpSub',
  sid: 'idpSid',
  refreshTokenSealed: 'idpRefreshTokenSealed',
  idTokenSealed: 'idpIdTokenSealed',
  accessTokenSealed: 'idpAccessTokenSealed',
  accessExpiresAt: 'idpAccessExpiresAt',
} as const satisfies Record<keyof IdpLink, string>;

/** A validated record → the hash's field/value list (nulls are left out; `claims` is JSON text). */
export function recordToFields(record: z.output<typeof recordSchema>): string[] {
  const fields: string[] = [];
  const { idp, ...plain } = record;
  for (const [field, value] of Object.entries(plain)) {
    if (value === null || value === undefined) continue;
    // `claims` and `amr` are stored as JSON text; every other field is a string or an integer.
    fields.push(field, field === 'claims' || field === 'amr' ? JSON.stringify(value) : String(value));
  }
  if (idp) {
    for (const [name, field] of Object.entries(IDP_FIELDS)) {
      const value = idp[name as keyof IdpLink];
      if (value !== null && value !== undefined) fields.push(field, String(value));
    }
  }
  return fields;
}

export const isExpired = (record: DeviceSessionRecord, now: number): boolean => now >= record.idleExpiresAt || now >= record.absoluteExpiresAt;

export const oldestFirst = (a: DeviceSessionRecord, b: DeviceSessionRecord): number =>
  a.createdAt - b.createdAt || (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0);

/** A session hash as returned by HGETALL (flat field/value list) → record. */
export function recordFromFlat(flat: unknown): DeviceSessionRecord {
  if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new TypeError('Unexpected session reply from Redis');
  const fields = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
  const text = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined) throw new TypeError(`Session in Redis lacks ${name}`);
    return value;
  };
  const number = (name: string): number => Number(text(name));
  const record: DeviceSessionRecord = {
    key: text('key'),
    sid: text('sid'),
    userId: text('userId'),
    userName: text('userName'),
    deviceName: text('deviceName'),
    userAgent: text('userAgent'),
    createdAt: number('createdAt'),
    rotatedAt: number('rotatedAt'),
    lastActivityAt: number('lastActivityAt'),
    idleExpiresAt: number('idleExpiresAt'),
    absoluteExpiresAt: number('absoluteExpiresAt'),
    generation: number('generation'),
    credentialHash: text('credentialHash'),
    previousHash: fields.get('previousHash') ?? null,
    successorSealed: fields.get('successorSealed') ?? null,
    graceUntil: number('graceUntil'),
  };
  // The optional fields set only when stored (assigned, not spread: every refresh decodes a record).
  const claims = fields.get('claims');
  if (claims !== undefined) record.claims = JSON.parse(claims) as Record<string, unknown>;
  const tenant = fields.get('tenant');
  if (tenant !== undefined) record.tenant = tenant;
  if (fields.has('authTime')) record.authTime = number('authTime');
  const acr = fields.get('acr');
  if (acr !== undefined) record.acr = acr;
  const amr = fields.get('amr');
  if (amr !== undefined) record.amr = JSON.parse(amr) as string[];
  const loginName = fields.get('loginName');
  if (loginName !== undefined) record.loginName = loginName;
  if (fields.has(IDP_FIELDS.iss)) record.idp = idpFromFields(fields, text, number);
  return record;
}

/** The IdP link of a session the IdP started, from its hash's `idp*` fields. */
function idpFromFields(fields: ReadonlyMap<string, string>, text: (name: string) => string, number: (name: string) => number): IdpLink {
  return {
    iss: text(IDP_FIELDS.iss),
    sub: text(IDP_FIELDS.sub),
    sid: fields.get(IDP_FIELDS.sid) ?? null,
    refreshTokenSealed: fields.get(IDP_FIELDS.refreshTokenSealed) ?? null,
    idTokenSealed: fields.get(IDP_FIELDS.idTokenSealed) ?? null,
    ...(fields.has(IDP_FIELDS.accessTokenSealed) ? { accessTokenSealed: fields.get(IDP_FIELDS.accessTokenSealed)! } : {}),
    accessExpiresAt: number(IDP_FIELDS.accessExpiresAt),
  };
}

export function recordsFromReply(reply: unknown): DeviceSessionRecord[] {
  if (!Array.isArray(reply)) throw new TypeError('Unexpected session list reply from Redis');
  return reply.map(recordFromFlat);
}

export function rotateResultFromReply(reply: unknown): RotateResult {
  if (!Array.isArray(reply)) throw new TypeError('Unexpected rotate reply from Redis');
  const [outcome, payload, sealed] = reply as [unknown, unknown, unknown];
  switch (outcome) {
    case 'rotated':
      return { outcome, session: recordFromFlat(payload) };
    case 'replayed':
      return { outcome, session: recordFromFlat(payload), sealed: String(sealed) };
    case 'reuse_detected':
      return { outcome, session: recordFromFlat(payload) };
    case 'expired':
      if (payload !== 'idle' && payload !== 'absolute') throw new TypeError(`Unexpected expiry from Redis: ${String(payload)}`);
      return { outcome, reason: payload, session: recordFromFlat(sealed) };
    case 'ended':
      return { outcome, reason: isSessionEndReason(payload) ? payload : null };
    case 'mismatch':
      return { outcome };
    default:
      throw new TypeError(`Unexpected rotate outcome from Redis: ${String(outcome)}`);
  }
}
