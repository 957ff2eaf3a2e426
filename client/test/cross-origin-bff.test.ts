import axios, { type AxiosResponse } from 'axios';
import { attachAxios } from '@latchkey/client/axios';
import { describe, expect, it, vi } from 'vitest';
import { createFakeBff, makeClient, useSingleTabClients } from './support/fake-bff.js';

// The page on app.example.test, the BFF on id.example.test (another origin of the same site), the API on api.
const BFF = 'https://id.example.test';
const API = 'https://api.example.test';
const clients = useSingleTabClients();

async function signedIn(options: { bffUrl: string; apiOrigins: string[] }) {
  const bff = createFakeBff();
  const client = makeClient(bff, options, clients);
  client.start();
  await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
  return { bff, client };
}

/** An axios instance that records the Authorization header of each request and answers 200. */
function recordingApi() {
  const sent: Array<{ url: string; auth: string | undefined }> = [];
  const instance = axios.create({
    adapter: async (config) => {
      sent.push({ url: axios.getUri(config), auth: config.headers.get('Authorization') as string | undefined });
      return { data: {}, status: 200, statusText: 'OK', headers: {}, config, request: {} } satisfies AxiosResponse;
    },
  });
  return { instance, sent };
}

describe('a BFF on another origin (bffUrl absolute)', () => {
  it('sends every BFF call there with the cookie (credentials: include) and X-CSRF', async () => {
    const { bff, client } = await signedIn({ bffUrl: BFF + '/auth/', apiOrigins: [API] });
    await client.listSessions();
    await client.logout();
    await client.login({ username: 'alice', password: 'wonderland' });
    expect(bff.calls.map((c) => [c.method, c.url])).toEqual([
      ['POST', BFF + '/auth/refresh'],
      ['GET', BFF + '/auth/sessions'],
      ['POST', BFF + '/auth/logout'],
      ['POST', BFF + '/auth/login'],
    ]);
    for (const call of bff.calls) {
      expect(call.credentials).toBe('include');
      expect(call.headers['x-csrf']).toBe('1');
    }
  });

  it('keeps the same-origin default as it was: a relative /auth, the cookie included', async () => {
    const { bff } = await signedIn({ bffUrl: '/auth', apiOrigins: [API] });
    expect(bff.calls.map((c) => [c.url, c.credentials])).toEqual([['/auth/refresh', 'include']]);
  });

  it('the axios adapter never sends the bearer token to the BFF origin unless it is listed in apiOrigins', async () => {
    const { client } = await signedIn({ bffUrl: BFF + '/auth', apiOrigins: [API] });
    const { instance, sent } = recordingApi();
    attachAxios(instance, client, { sameOrigin: true });
    await instance.get(API + '/me');
    await instance.get(BFF + '/auth/sessions');
    await instance.get(BFF + '/api/me');
    expect(sent.map((s) => s.auth)).toEqual(['Bearer t1', undefined, undefined]);

    // Listed explicitly (the BFF's host also serves the API): then, and only then, it gets the token.
    const listed = await signedIn({ bffUrl: BFF + '/auth', apiOrigins: [API, BFF] });
    const second = recordingApi();
    attachAxios(second.instance, listed.client);
    await second.instance.get(BFF + '/api/me');
    expect(second.sent.map((s) => s.auth)).toEqual(['Bearer t1']);
  });
});
