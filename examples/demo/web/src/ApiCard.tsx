import { useState } from 'react';
import { api, isProxyMode } from './session.js';
import { SessionError } from '@latchkey/client';
import { describeError } from './describe-error.js';
import { afterReauthentication } from './reauth.js';

interface Result {
  ok: boolean;
  text: string;
}

function useCall(url: string) {
  const [result, setResult] = useState<Result | null>(null);
  const [pending, setPending] = useState(false);
  async function call() {
    setPending(true);
    try {
      let response;
      try {
        response = await api.get(url);
      } catch (error) {
        // Step-up: the API wants a more recent authentication. Once the prompt has re-authenticated, retry once.
        if (!(error instanceof SessionError && error.code == 'insufficient_user_authentication')) throw error;
        await afterReauthentication().catch(() => Promise.reject(error));
        response = await api.get(url);
      }
      setResult({ ok: true, text: JSON.stringify(response.data, null, 2) });
    } catch (error) {
      setResult({ ok: false, text: describeError(error) });
    } finally {
      setPending(false);
    }
  }
  return { result, pending, call };
}

function Output({ result, testId }: { result: Result | null; testId: string }) {
  if (!result) return null;
  return (
    <pre className={`output ${result.ok ? '' : 'output-error'}`} data-testid={testId} data-state={result.ok ? 'ok' : 'error'}>
      {result.text}
    </pre>
  );
}

/** Proxy mode with the development IdP: an API that takes the IdP's own access tokens, which the BFF attaches. */
const idpApi = document.querySelector('meta[name="latchkey-idp-api"]')?.getAttribute('content') ?? null;

export function ApiCard() {
  const me = useCall('/api/me');
  const idp = useCall(idpApi ?? '/api/idp-profile');
  const admin = useCall('/api/admin');
  const open = useCall('/api/public');
  return (
    <section className="card">
      <h2>API</h2>
      <p className="muted">
        {isProxyMode
          ? 'Proxy mode: requests go through the BFF, which attaches the token on the server; this page never holds one.'
          : 'Requests go through axios; the adapter adds the access token and refreshes it on a 401.'}{' '}
        /api/admin needs the admin scope (alice has it, bob gets 403) and a recent sign-in (otherwise the page asks for the password again, then retries).
      </p>
      <div className="actions">
        <button className="primary" onClick={() => void me.call()} disabled={me.pending} data-testid="call-me">
          Call /api/me
        </button>
        <button onClick={() => void admin.call()} disabled={admin.pending} data-testid="call-admin">
          Call /api/admin
        </button>
        <button onClick={() => void open.call()} disabled={open.pending} data-testid="call-public">
          Call /api/public
        </button>
        {idpApi && (
          <button
            onClick={() => void idp.call()}
            disabled={idp.pending}
            data-testid="call-idp-api"
            title="The BFF attaches your identity provider's access token"
          >
            Call {idpApi}
          </button>
        )}
      </div>
      <Output result={me.result} testId="me-result" />
      <Output result={admin.result} testId="admin-result" />
      <Output result={open.result} testId="public-result" />
      <Output result={idp.result} testId="idp-api-result" />
    </section>
  );
}
