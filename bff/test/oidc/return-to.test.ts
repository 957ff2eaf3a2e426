import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatchkeyError } from '../../src/errors/latchkey-error.js';
import { checkReturnTo } from '../../src/oidc/return-to.js';

const OWN = 'https://app.example';
const CALLBACK = `${OWN}/auth/oidc/callback?code=x&state=y`;
const REFUSED = { code: 'invalid_request', message: 'returnTo must be a path or URL on this site.' };

function refusal(value: unknown, allowed?: readonly string[]): unknown {
  try {
    checkReturnTo(value, OWN, allowed);
  } catch (error) {
    expect(error).toBeInstanceOf(LatchkeyError);
    return { code: (error as LatchkeyError).code, message: (error as LatchkeyError).message };
  }
  return undefined;
}

/** Where a browser ends up when the callback answers `303 Location: <value>`. */
const landing = (location: string) => new URL(location, CALLBACK);

describe('returnTo', () => {
  it.each([
    '/.//evil.example/phish',
    '/..//evil.example/phish',
    '/%2e//evil.example/phish',
    '/%2E%2E//evil.example/phish',
    '/a/..//evil.example/phish',
    '/x/../..//evil.example/phish',
    '/%2e%2e/%2e%2e//evil.example',
    '/./\\evil.example',
    '//evil.example/phish',
    '/\\evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
    '/\u007fx',
  ])('refuses %s: dot-segment removal must not make a network-path reference', (value) => {
    expect(refusal(value)).toEqual(REFUSED);
  });

  it.each([
    ['/', '/'],
    ['/app?x=1#h', '/app?x=1#h'],
    ['/a/./b/../c', '/a/c'],
    ['/a/%2e%2e/b', '/b'],
    [`${OWN}/deep?x=1`, `${OWN}/deep?x=1`],
  ])('keeps %s on this site as %s', (value, expected) => {
    expect(checkReturnTo(value, OWN, undefined)).toBe(expected);
    expect(landing(expected).origin).toBe(OWN);
  });

  it('defaults to / and keeps an allowed absolute URL', () => {
    expect(checkReturnTo(undefined, OWN, undefined)).toBe('/');
    expect(checkReturnTo('https://other.example/x', OWN, [OWN, 'https://other.example'])).toBe('https://other.example/x');
  });

  it('property: whatever path is given, the browser lands on an allowed origin or the value is refused', () => {
    const segment = fc.constantFrom(
      '',
      '.',
      '..',
      '%2e',
      '%2E',
      '%2e%2e',
      '%2E%2e',
      '.%2e',
      'evil.example',
      'a',
      '@evil.example',
      ':',
      '%2f',
      '%5c',
      '\\',
      '?',
      '#',
    );
    const path = fc.array(segment, { maxLength: 8 }).map((parts) => `/${parts.join('/')}`);
    const allowed = [OWN, 'https://other.example'];
    fc.assert(
      fc.property(path, (value) => {
        let result: string;
        try {
          result = checkReturnTo(value, OWN, allowed);
        } catch (error) {
          expect((error as LatchkeyError).code).toBe('invalid_request');
          return;
        }
        expect(result.startsWith('//')).toBe(false);
        expect(allowed).toContain(landing(result).origin);
        // A relative value stays on this very origin, never on another allowed one.
        if (!/^[a-z][a-z0-9+.-]*:/i.test(value)) expect(landing(result).origin).toBe(OWN);
      }),
      { numRuns: 5000 },
    );
  });
});
