import axios, { AxiosError, AxiosHeaders, type AxiosResponse } from 'axios';
import { SessionError } from '@latchkey/client';
import { attachAxios } from '@latchkey/client/axios';
import { describe, expect, it, vi } from 'vitest';
import { createFakeBff, errorResponse, json, makeClient, useSingleTabClients } from './support/fake-bff.js';

const API = 'https://api.example.test';
const clients = useSingleTabClients();
const CHALLENGE = 'Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age=300';

async function setup() {
  const bff = createFakeBff();
  const client = makeClient(bff, { apiOrigins: [API] }, clients);
  client.start();
  await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
  return { bff, client };
}

/** An API that answers 401 with `challenge` until `recent` says the user re-authenticated. */
function steppingApi(challenge: string, recent: () => boolean) {
  let calls = 0;
  const instance = axios.create({
    adapter: async (config) => {
      calls++;
      const ok = recent();
      const response: AxiosResponse = {
        data: ok ? { ok: true } : { error: 'insufficient_user_authentication', message: 'A more recent authentication is required.' },
        status: ok ? 200 : 401,
        statusText: '',
        headers: new AxiosHeaders(ok ? {} : { 'www-authenticate': challenge }),
        config,
        request: {},
      };
      if (ok) return response;
      throw new AxiosError('Request failed with status code 401', AxiosError.ERR_BAD_REQUEST, config, {}, response);
    },
  });
  return { instance, calls: () => calls };
}

describe('step-up (RFC 9470)', () => {
  it('the axios adapter does not refresh on insufficient_user_authentication: it emits reauthentication_required and rejects with a SessionError', async () => {
    const { bff, client } = await setup();
    const api = steppingApi(CHALLENGE + ', acr_values="urn:gold urn:silver"', () => false);
    attachAxios(api.instance, client);
    const seen: unknown[] = [];
    client.on('reauthentication_required', (detail) => seen.push(detail));
    const refreshes = bff.count('/refresh');
    const error = await api.instance.get(API + '/admin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(error).toMatchObject({ code: 'insufficient_user_authentication', status: 401 });
    expect(seen).toEqual([{ maxAge: 300, acrValues: 'urn:gold urn:silver' }]);
    expect(bff.count('/refresh')).toBe(refreshes);
    expect(api.calls()).toBe(1);
    expect(client.getSnapshot().status).toBe('authenticated');
  });

  it('reauthenticate({ password }) posts to /reauthenticate and takes the fresh token for the same session; the call then succeeds', async () => {
    const { bff, client } = await setup();
    let recent = false;
    bff.once('/reauthenticate', (call) => {
      recent = (call.body as { password: string }).password == 'wonderland';
      return recent
        ? json(200, {
            accessToken: 't-reauth',
            tokenType: 'Bearer',
            expiresAt: Date.now() + 300_000,
            user: bff.state.user,
            session: { id: 's1', deviceName: 'Test device', createdAt: 1 },
          })
        : errorResponse(401, 'invalid_credentials');
    });
    const api = steppingApi(CHALLENGE, () => recent);
    attachAxios(api.instance, client);
    const refreshed = vi.fn();
    client.on('refreshed', refreshed);
    await expect(api.instance.get(API + '/admin')).rejects.toMatchObject({ code: 'insufficient_user_authentication' });
    const snapshot = client.getSnapshot();
    await client.reauthenticate({ password: 'wonderland' });
    expect(bff.calls.at(-1)).toMatchObject({ method: 'POST', path: '/reauthenticate', body: { password: 'wonderland' }, headers: { 'x-csrf': '1' } });
    expect(await client.getAccessToken()).toBe('t-reauth');
    // Same session: the snapshot does not change, the application hears `refreshed`.
    expect(client.getSnapshot()).toBe(snapshot);
    expect(refreshed).toHaveBeenCalledOnce();
    expect((await api.instance.get(API + '/admin')).data).toEqual({ ok: true });
  });

  it('a wrong password rejects with invalid_credentials and keeps the session', async () => {
    const { bff, client } = await setup();
    bff.once('/reauthenticate', () => errorResponse(401, 'invalid_credentials'));
    await expect(client.reauthenticate({ password: 'nope' })).rejects.toMatchObject({ code: 'invalid_credentials', status: 401 });
    expect(client.getSnapshot().status).toBe('authenticated');
  });

  it('another 401 (invalid_token) still refreshes once and retries', async () => {
    const { bff, client } = await setup();
    const api = steppingApi('Bearer error="invalid_token"', () => bff.issuedTokens() > 1);
    attachAxios(api.instance, client);
    const seen = vi.fn();
    client.on('reauthentication_required', seen);
    expect((await api.instance.get(API + '/me')).status).toBe(200);
    expect(seen).not.toHaveBeenCalled();
  });
});
