import axios, { AxiosError, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { attachAxios, createSessionClient, type SessionClient } from '@latchkey/client/proxy';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeBff, errorResponse, json } from './support/fake-bff.js';

const API = 'https://app.example.test';
const clients: SessionClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
});

let channels = 0;
function start(bff: ReturnType<typeof createFakeBff>, channelName = `latchkey-proxy-test-${process.pid}-${++channels}`) {
  const client = createSessionClient({ mode: 'proxy', fetch: bff.fetch, apiOrigins: [API], channelName });
  clients.push(client);
  client.start();
  return client;
}

/** An axios instance whose transport records what each request carried and answers as told. */
function fakeApi(answer: () => { status: number; headers?: Record<string, string> }) {
  const seen: Array<{ url: string; csrf: unknown; auth: unknown; withCredentials: unknown }> = [];
  const instance = axios.create({
    adapter: async (config: InternalAxiosRequestConfig) => {
      seen.push({
        url: axios.getUri(config),
        csrf: config.headers.get('X-CSRF'),
        auth: config.headers.get('Authorization'),
        withCredentials: config.withCredentials,
      });
      const { status, headers = {} } = answer();
      const response: AxiosResponse = { data: {}, status, statusText: String(status), headers, config, request: {} };
      if (status < 400) return response;
      throw new AxiosError('status ' + status, AxiosError.ERR_BAD_REQUEST, config, {}, response);
    },
  });
  return { instance, seen };
}

describe('createSessionClient({ mode: "proxy" })', () => {
  it('restores the session from GET /session and never calls /refresh or holds a token', async () => {
    const bff = createFakeBff();
    const client = start(bff);
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    expect(client.getSnapshot().user).toEqual({ id: 'u-alice', name: 'alice' });
    expect(await client.getAccessToken()).toBeNull();
    expect(bff.count('/refresh')).toBe(0);
    expect(bff.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /session']);
    expect(bff.calls[0]!.headers['x-csrf']).toBe('1');
    expect(bff.calls[0]!.credentials).toBe('include');
  });

  it('signs in without keeping any token the BFF might still send', async () => {
    const bff = createFakeBff({ signedIn: false });
    const client = start(bff);
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('unauthenticated'));
    await client.login({ username: 'alice', password: 'wonderland' });
    expect(client.getSnapshot().status).toBe('authenticated');
    expect(JSON.stringify(client.getSnapshot())).not.toContain('t1');
    expect(await client.getAccessToken()).toBeNull();
  });

  it('only a definitive 401 from GET /session ends the session; a 503 keeps the user signed in', async () => {
    const bff = createFakeBff();
    const client = start(bff);
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    bff.once('/session', () => json(503, { error: 'temporarily_unavailable', message: 'later' }));
    await expect(client.refresh()).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', unreachable: true });
    bff.once('/session', () => errorResponse(401, 'session_revoked'));
    await client.refresh();
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'session_revoked' });
  });

  it('a 403 csrf_rejected from GET /session is a configuration error in the snapshot and on the console, not unreachable', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bff = createFakeBff();
    bff.once('/session', () => errorResponse(403, 'csrf_rejected'));
    const client = start(bff);
    await vi.waitFor(() => expect(client.getSnapshot().status).not.toBe('loading'));
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', unreachable: false, error: { code: 'csrf_rejected' } });
    expect(consoleError).toHaveBeenCalledOnce();
    expect(consoleError.mock.calls[0]![0]).toMatch(/origins\.allowed/);
    consoleError.mockRestore();
  });

  it("ignores a token-mode page's messages on the same channel (ask, active), and still hears a sign-out", async () => {
    const bff = createFakeBff();
    const channelName = `latchkey-proxy-mixed-${process.pid}`;
    const client = start(bff, channelName);
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    const tokenPage = new BroadcastChannel(channelName);
    tokenPage.postMessage({ type: 'ask' });
    tokenPage.postMessage({ type: 'active', at: Date.now() });
    // Delivered in order: had 'ask' or 'active' signed the page out, this 'out' would change nothing.
    tokenPage.postMessage({ type: 'out', reason: 'logout' });
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('unauthenticated'));
    expect(client.getSnapshot().signOutReason).toBe('logout');
    tokenPage.close();
  });

  it('drops tab messages that are not one of the known shapes (ASVS 3.5.5)', async () => {
    const bff = createFakeBff();
    const channelName = `latchkey-proxy-shapes-${process.pid}`;
    const client = start(bff, channelName);
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    const seen: string[] = [];
    client.subscribe(() => seen.push(`${client.getSnapshot().status}:${client.getSnapshot().user?.name}`));
    const stranger = new BroadcastChannel(channelName);
    for (const message of [
      null,
      { type: 'out' },
      { type: 'out', reason: 42 },
      { type: 'in', view: { user: { id: 'u-bob', name: 'bob' } } },
      { type: 'in', view: { session: { id: 's9' } } },
    ])
      stranger.postMessage(message);
    // Delivered in order: had any of them been taken, this 'out' would change nothing.
    stranger.postMessage({ type: 'out', reason: 'logout' });
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('unauthenticated'));
    expect(client.getSnapshot().signOutReason).toBe('logout');
    expect(seen).toEqual(['unauthenticated:undefined']);
    stranger.close();
  });

  it('refuses any other mode', () => {
    expect(() => createSessionClient({ mode: 'token' as 'proxy' })).toThrow(/invalid option mode/);
  });
});

describe('proxy mode axios adapter', () => {
  it('sends X-CSRF and credentials to the API origins only, never an Authorization header', async () => {
    const bff = createFakeBff();
    const client = start(bff);
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    const { instance, seen } = fakeApi(() => ({ status: 200 }));
    attachAxios(instance, client);
    await instance.get(`${API}/api/me`);
    await instance.get('https://third-party.example/x');
    await instance.get(`${API}/api/me`, { latchkey: { skip: true } });
    expect(seen).toEqual([
      { url: `${API}/api/me`, csrf: '1', auth: undefined, withCredentials: true },
      { url: 'https://third-party.example/x', csrf: undefined, auth: undefined, withCredentials: undefined },
      { url: `${API}/api/me`, csrf: undefined, auth: undefined, withCredentials: undefined },
    ]);
  });

  it('a BFF 401 ends the session (GET /session says so); an upstream 401 signs nobody out; nothing is retried', async () => {
    const bff = createFakeBff();
    const client = start(bff);
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    const { instance, seen } = fakeApi(() => ({ status: 401 }));
    attachAxios(instance, client);
    // The upstream's own 401: the session lives on.
    await expect(instance.get(`${API}/api/me`)).rejects.toMatchObject({ response: { status: 401 } });
    expect(client.getSnapshot().status).toBe('authenticated');
    expect(seen).toHaveLength(1);
    // The BFF ended the session: its GET /session answers so, and every tab is signed out.
    bff.state.signedIn = false;
    bff.once('/session', () => errorResponse(401, 'session_revoked'));
    await expect(instance.get(`${API}/api/me`)).rejects.toMatchObject({ response: { status: 401 } });
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'session_revoked' });
    expect(seen).toHaveLength(2);
  });

  it('a sign-out in one tab signs out the others; a sign-in in one signs in the others', async () => {
    const bff = createFakeBff();
    const channel = `latchkey-proxy-tabs-${process.pid}`;
    const a = start(bff, channel);
    const b = start(bff, channel);
    await vi.waitFor(() => expect(b.getSnapshot().status).toBe('authenticated'));
    await a.logout();
    await vi.waitFor(() => expect(b.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'logout' }));
    await a.login({ username: 'alice', password: 'wonderland' });
    await vi.waitFor(() => expect(b.getSnapshot().status).toBe('authenticated'));
  });
});

describe('proxy mode: step-up (RFC 9470)', () => {
  it('a 401 insufficient_user_authentication asks no GET /session: reauthentication_required, a SessionError; reauthenticate() keeps the session', async () => {
    const bff = createFakeBff();
    const client = start(bff);
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    let recent = false;
    const { instance } = fakeApi(() =>
      recent ? { status: 200 } : { status: 401, headers: { 'www-authenticate': 'Bearer error="insufficient_user_authentication", max_age=60' } },
    );
    attachAxios(instance, client);
    const seen = vi.fn();
    client.on('reauthentication_required', seen);
    const sessionCalls = bff.count('/session');
    await expect(instance.get(API + '/api/admin')).rejects.toMatchObject({ name: 'SessionError', code: 'insufficient_user_authentication', status: 401 });
    expect(seen).toHaveBeenCalledWith({ maxAge: 60, acrValues: undefined });
    expect(bff.count('/session')).toBe(sessionCalls);
    const snapshot = client.getSnapshot();
    bff.once('/reauthenticate', () => {
      recent = true;
      return json(200, { user: bff.state.user, session: { id: 's1', deviceName: 'Test device', createdAt: 1 } });
    });
    await client.reauthenticate({ password: 'wonderland' });
    expect(bff.calls.at(-1)).toMatchObject({ method: 'POST', path: '/reauthenticate', body: { password: 'wonderland' } });
    expect(client.getSnapshot().session).toEqual(snapshot.session);
    expect((await instance.get(API + '/api/admin')).status).toBe(200);
  });
});
