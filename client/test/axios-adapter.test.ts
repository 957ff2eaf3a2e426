import axios, { AxiosError, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { attachAxios } from '@latchkey/client/axios';
import { describe, expect, it, vi } from 'vitest';
import { createFakeBff, deferred, errorResponse, makeClient, useSingleTabClients } from './support/fake-bff.js';

const API = 'https://api.example.test';
// Single-tab behaviour: no other tab to ask, so start() refreshes at once.
const clients = useSingleTabClients();

type Answer = { status: number; data?: unknown };

/** An axios instance whose transport is a function: the API under test decides from each request. */
function fakeApi(answer: (auth: string | undefined, config: InternalAxiosRequestConfig) => Answer | Promise<Answer>) {
  const requests: Array<{ url: string; auth: string | undefined }> = [];
  const instance = axios.create({
    adapter: async (config) => {
      const auth = config.headers.get('Authorization') as string | undefined;
      requests.push({ url: axios.getUri(config), auth });
      // A retry loop would spin on microtasks and starve the test timeout: end it with a visible failure.
      if (requests.length > 50) throw new Error('request loop');
      const { status, data = {} } = await answer(auth, config);
      const response: AxiosResponse = { data, status, statusText: String(status), headers: {}, config, request: {} };
      if (status < 400) return response;
      throw new AxiosError('Request failed with status code ' + status, AxiosError.ERR_BAD_REQUEST, config, {}, response);
    },
  });
  return { instance, requests };
}

/** An API that accepts only the newest token the fake BFF issued. */
const acceptsLatest =
  (bff: ReturnType<typeof createFakeBff>) =>
  (auth: string | undefined): Answer =>
    auth == 'Bearer t' + bff.issuedTokens() ? { status: 200, data: { ok: true } } : { status: 401 };

async function setup(options: { apiOrigins?: string[]; sameOrigin?: boolean } = {}) {
  const bff = createFakeBff();
  const client = makeClient(bff, { apiOrigins: options.apiOrigins ?? [API] }, clients);
  client.start();
  await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
  return { bff, client };
}

describe('attachAxios: which requests get the token', () => {
  it('attaches the bearer token to configured origins only', async () => {
    const { client } = await setup();
    const { instance, requests } = fakeApi(() => ({ status: 200 }));
    attachAxios(instance, client);

    await instance.get(API + '/me');
    await instance.get('https://evil.example.test/steal');
    await instance.get('https://api.example.test.evil.example/x');
    await instance.get('//evil.example.test/protocol-relative');
    await instance.get('/relative');
    await instance.get('/me', { baseURL: API });

    expect(requests.map((r) => r.auth)).toEqual(['Bearer t1', undefined, undefined, undefined, undefined, 'Bearer t1']);
  });

  it('relative URLs get the token when the page origin is listed', async () => {
    const { client } = await setup({ apiOrigins: [location.origin] });
    const { instance, requests } = fakeApi(() => ({ status: 200 }));
    attachAxios(instance, client);
    await instance.get('/api/me');
    await instance.get(API + '/me');
    expect(requests.map((r) => r.auth)).toEqual(['Bearer t1', undefined]);
  });

  it('relative URLs are resolved against document.baseURI, as the browser does: a <base href> elsewhere gets no token', async () => {
    const { client } = await setup({ apiOrigins: [location.origin, API] });
    const { instance, requests } = fakeApi(() => ({ status: 200 }));
    attachAxios(instance, client, { sameOrigin: true });
    const base = document.createElement('base');
    document.head.append(base);
    try {
      base.href = 'https://evil.example.test/app/';
      expect(document.baseURI).toBe('https://evil.example.test/app/');
      await instance.get('/api/me');
      await instance.get('api/me');
      await instance.get('me', { baseURL: 'v1/' }); // a relative baseURL as well
      await instance.get(location.origin + '/api/me'); // absolute: still the page's origin
      base.href = API + '/v2/';
      await instance.get('me', { baseURL: '/v1' });
      expect(requests.map((r) => r.auth)).toEqual([undefined, undefined, undefined, 'Bearer t1', 'Bearer t1']);
    } finally {
      base.remove();
    }
    expect(document.baseURI).toBe(location.href);
  });

  it('relative URLs get the token with the sameOrigin option', async () => {
    const { client } = await setup();
    const { instance, requests } = fakeApi(() => ({ status: 200 }));
    attachAxios(instance, client, { sameOrigin: true });
    await instance.get('/api/me');
    await instance.get('https://evil.example.test/');
    expect(requests.map((r) => r.auth)).toEqual(['Bearer t1', undefined]);
  });

  it('requests marked skip are left alone, even on 401', async () => {
    const { bff, client } = await setup();
    const { instance, requests } = fakeApi(() => ({ status: 401 }));
    attachAxios(instance, client);
    await expect(instance.get(API + '/public', { latchkey: { skip: true } })).rejects.toMatchObject({ response: { status: 401 } });
    expect(requests).toEqual([{ url: API + '/public', auth: undefined }]);
    expect(bff.count('/refresh')).toBe(1);
  });

  it('no token is attached when signed out', async () => {
    const bff = createFakeBff({ signedIn: false });
    const client = makeClient(bff, { apiOrigins: [API] }, clients);
    client.start();
    const { instance, requests } = fakeApi(() => ({ status: 401 }));
    attachAxios(instance, client);
    await expect(instance.get(API + '/me')).rejects.toBeInstanceOf(AxiosError);
    expect(requests).toEqual([{ url: API + '/me', auth: undefined }]);
    expect(bff.count('/refresh')).toBe(0); // no hint cookie: no start-up refresh either
  });

  it('detach() ejects both interceptors', async () => {
    const { bff, client } = await setup();
    const { instance, requests } = fakeApi(() => ({ status: 401 }));
    const detach = attachAxios(instance, client);
    detach();
    await expect(instance.get(API + '/me')).rejects.toBeInstanceOf(AxiosError);
    expect(requests).toEqual([{ url: API + '/me', auth: undefined }]);
    expect(bff.count('/refresh')).toBe(1);
  });
});

describe('attachAxios: 401 handling', () => {
  it('refreshes once and retries once with the new token', async () => {
    const { bff, client } = await setup();
    const { instance, requests } = fakeApi(acceptsLatest(bff));
    attachAxios(instance, client);
    await bff.fetch('/auth/refresh', { method: 'POST' }); // the API now wants t2; the client still has t1

    const response = await instance.get(API + '/me');
    expect(response.data).toEqual({ ok: true });
    expect(requests.map((r) => r.auth)).toEqual(['Bearer t1', 'Bearer t3']);
    expect(bff.count('/refresh')).toBe(3);
    expect(client.getSnapshot().status).toBe('authenticated');
  });

  it('concurrent 401s share one refresh', async () => {
    const { bff, client } = await setup();
    const { instance, requests } = fakeApi(acceptsLatest(bff));
    attachAxios(instance, client);
    await bff.fetch('/auth/refresh', { method: 'POST' });
    const before = bff.count('/refresh');

    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => instance.get(`${API}/item/${i}`)));
    expect(responses.every((r) => r.status == 200)).toBe(true);
    expect(bff.count('/refresh') - before).toBe(1);
    expect(requests.filter((r) => r.auth == 'Bearer t1')).toHaveLength(8);
    expect(requests.filter((r) => r.auth == 'Bearer t3')).toHaveLength(8);
  });

  it('a 401 arriving after the refresh finished reuses the new token without another refresh', async () => {
    const { bff, client } = await setup();
    await bff.fetch('/auth/refresh', { method: 'POST' });
    const slow = deferred<Answer>();
    let first = true;
    const { instance } = fakeApi((auth) => {
      if (auth == 'Bearer t1' && first) {
        first = false;
        return slow.promise;
      }
      return acceptsLatest(bff)(auth);
    });
    attachAxios(instance, client);
    const late = instance.get(API + '/slow');
    await instance.get(API + '/fast'); // 401 -> refresh to t3 -> retried
    slow.resolve({ status: 401 });
    expect((await late).status).toBe(200);
    expect(bff.count('/refresh')).toBe(3);
  });

  it('never loops: a 401 after the retry goes back to the caller', async () => {
    const { bff, client } = await setup();
    const { instance, requests } = fakeApi(() => ({ status: 401 }));
    attachAxios(instance, client);
    const error = await instance.get(API + '/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).response?.status).toBe(401);
    expect(requests).toHaveLength(2);
    expect(bff.count('/refresh')).toBe(2);
    // An API 401 alone does not sign the user out: the BFF still vouches for the session.
    expect(client.getSnapshot().status).toBe('authenticated');
  });

  it('when the BFF ends the session, the caller gets the original 401 and the user is signed out', async () => {
    const { bff, client } = await setup();
    const { instance, requests } = fakeApi(() => ({ status: 401 }));
    attachAxios(instance, client);
    bff.once('/refresh', () => errorResponse(401, 'session_revoked'));
    await expect(instance.get(API + '/me')).rejects.toMatchObject({ response: { status: 401 } });
    expect(requests).toHaveLength(1);
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'session_revoked' });
  });

  it('when the BFF is unreachable, the caller gets the original 401 and stays signed in', async () => {
    const { bff, client } = await setup();
    const { instance, requests } = fakeApi(() => ({ status: 401 }));
    attachAxios(instance, client);
    bff.once('/refresh', () => Promise.reject(new TypeError('Failed to fetch')));
    await expect(instance.get(API + '/me')).rejects.toMatchObject({ response: { status: 401 } });
    expect(requests).toHaveLength(1);
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', unreachable: true });
  });

  it('other errors pass through untouched', async () => {
    const { bff, client } = await setup();
    const { instance } = fakeApi(() => ({ status: 403 }));
    attachAxios(instance, client);
    await expect(instance.get(API + '/me')).rejects.toMatchObject({ response: { status: 403 } });
    expect(bff.count('/refresh')).toBe(1);
  });

  it('keeps its bookkeeping off the caller config', async () => {
    const { client } = await setup();
    const { instance } = fakeApi(() => ({ status: 200 }));
    attachAxios(instance, client);
    const config = { url: API + '/me' };
    const response = await instance.request(config);
    expect(config).toEqual({ url: API + '/me' });
    expect(Object.keys(response.config).filter((k) => /retry|latchkey/i.test(k))).toEqual([]);
  });
});
