import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isErrorBody, isErrorCode } from '../src/errors.js';

describe('isErrorBody / isErrorCode', () => {
  it('accepts exactly { error: known code, message: string }', () => {
    expect(isErrorBody({ error: 'insufficient_scope', message: 'x' })).toBe(true);
    for (const code of ERROR_CODES) expect(isErrorCode(code)).toBe(true);
  });

  it('refuses everything else without throwing', () => {
    for (const value of [
      null,
      undefined,
      0,
      'invalid_token',
      [],
      {},
      { error: 'invalid_token' },
      { error: 'nope', message: 'x' },
      { error: 'invalid_token', message: 1 },
    ]) {
      expect(isErrorBody(value)).toBe(false);
    }
    expect(isErrorCode(undefined)).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });
});
