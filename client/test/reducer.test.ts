import { describe, expect, it } from 'vitest';
import type { HeldToken } from '../src/core/held-token.js';
import { INITIAL_STATE, pick, reduce, type ClientState } from '../src/core/reducer.js';
import { SessionError } from '../src/core/session-error.js';

// The client's state changes, without a client: no timers, no channels, no network. Each case is one rule the
// multi-tab logic relies on.

const user = { id: 'u-alice', name: 'alice' };
const session = (id: string) => ({ id, deviceName: 'd', createdAt: 1 });
const token = (accessToken: string, sid = 's1', expiresAt = 1_000): HeldToken => ({
  accessToken,
  tokenType: 'Bearer',
  expiresAt,
  refreshAt: expiresAt - 100,
  user,
  session: session(sid),
});
const signedIn = (view: HeldToken, fromTab = false) => reduce(INITIAL_STATE, { type: 'token', view }, fromTab);

describe('reduce', () => {
  it('token: a new session is authenticated with its token, a new epoch, and no error or failure left', () => {
    const failing: ClientState = reduce(reduce(INITIAL_STATE, { type: 'unreachable' }), { type: 'rejected', error: new SessionError('csrf_rejected', 403) });
    const next = reduce(failing, { type: 'token', view: token('t1') });
    expect(next).toMatchObject({ token: { accessToken: 't1' }, epoch: 1, failures: 0 });
    expect(pick(next)).toEqual({ status: 'authenticated', user, session: session('s1'), unreachable: false, signOutReason: null, error: null });
    expect(Object.isFrozen(pick(next))).toBe(true);
    expect(next).not.toHaveProperty('snapshot');
    expect(pick(next)).not.toHaveProperty('token');
  });

  it('token: the same session again (a refresh) keeps the epoch and the very user and session objects', () => {
    const first = signedIn(token('t1'));
    const second = reduce(first, { type: 'token', view: token('t2', 's1', 2_000) });
    expect(second.token?.accessToken).toBe('t2');
    expect(second.epoch).toBe(first.epoch);
    expect(second.user).toBe(first.user);
    expect(second.session).toBe(first.session);
  });

  it('token from a tab: an older or equal token for the same session is ignored (several tabs answer one ask)', () => {
    const held = signedIn(token('newer', 's1', 2_000));
    expect(reduce(held, { type: 'token', view: token('older', 's1', 1_000) }, true)).toBe(held);
    expect(reduce(held, { type: 'token', view: token('same', 's1', 2_000) }, true)).toBe(held);
    expect(reduce(held, { type: 'token', view: token('newest', 's1', 3_000) }, true).token?.accessToken).toBe('newest');
    // This tab's own refresh always applies (its answer is the BFF's latest).
    expect(reduce(held, { type: 'token', view: token('own', 's1', 1_500) }).token?.accessToken).toBe('own');
  });

  it('token: a session that ended here never comes back, from a tab or a late answer; another session does', () => {
    const out = reduce(signedIn(token('t1')), { type: 'out', reason: 'logout' });
    expect(out.ended).toBe('s1');
    expect(reduce(out, { type: 'token', view: token('late', 's1', 5_000) }, true)).toBe(out);
    expect(reduce(out, { type: 'token', view: token('late', 's1', 5_000) })).toBe(out);
    const again = reduce(out, { type: 'token', view: token('t9', 's2') });
    expect(pick(again)).toMatchObject({ status: 'authenticated', session: { id: 's2' }, signOutReason: null });
    expect(again.ended).toBeUndefined();
  });

  it('out: drops the token, bumps the epoch, keeps the reason; a second sign-out changes nothing', () => {
    const held = signedIn(token('t1'));
    const out = reduce(held, { type: 'out', reason: 'session_revoked' });
    expect(out.token).toBeUndefined();
    expect(out.epoch).toBe(held.epoch + 1);
    expect(pick(out)).toEqual({ status: 'unauthenticated', user: null, session: null, unreachable: false, signOutReason: 'session_revoked', error: null });
    expect(reduce(out, { type: 'out', reason: 'logout' })).toBe(out);
  });

  it('out without a reason: nothing to restore at start-up', () => {
    expect(pick(reduce(INITIAL_STATE, { type: 'out', reason: null }))).toMatchObject({ status: 'unauthenticated', signOutReason: null });
  });

  it('unreachable: counts failures (the backoff exponent) and keeps the session', () => {
    const held = signedIn(token('t1'));
    const twice = reduce(reduce(held, { type: 'unreachable' }), { type: 'unreachable' });
    expect(twice).toMatchObject({ failures: 2, token: held.token });
    expect(pick(twice)).toMatchObject({ status: 'authenticated', unreachable: true });
    expect(reduce(twice, { type: 'token', view: token('t2', 's1', 2_000) })).toMatchObject({ failures: 0, unreachable: false });
  });

  it('rejected: a configuration error settles a loading page as signed out, and leaves a session alone', () => {
    const error = new SessionError('csrf_rejected', 403);
    expect(pick(reduce(INITIAL_STATE, { type: 'rejected', error }))).toMatchObject({ status: 'unauthenticated', unreachable: false, error });
    const held = signedIn(token('t1'));
    expect(reduce(held, { type: 'rejected', error })).toMatchObject({ token: held.token, status: 'authenticated', error });
  });

  it('hydrated: applies the server-rendered session (user and session only) while loading, never after', () => {
    const claims = { sub: 'u-alice' };
    const hydrated = reduce(INITIAL_STATE, { type: 'hydrated', initial: { user, session: session('s1'), claims } as never });
    expect(pick(hydrated)).toEqual({ status: 'authenticated', user, session: session('s1'), unreachable: false, signOutReason: null, error: null });
    expect(hydrated.token).toBeUndefined();
    expect(reduce(INITIAL_STATE, { type: 'hydrated', initial: null }).status).toBe('unauthenticated');
    const held = signedIn(token('t1'));
    expect(reduce(held, { type: 'hydrated', initial: null })).toBe(held);
  });

  it('active: keeps the latest activity any tab saw; an older report changes nothing', () => {
    const at100 = reduce(INITIAL_STATE, { type: 'active', at: 100 });
    expect(at100.activeAt).toBe(100);
    expect(reduce(at100, { type: 'active', at: 50 })).toBe(at100);
    expect(pick(at100)).toEqual(pick(INITIAL_STATE));
  });
});
