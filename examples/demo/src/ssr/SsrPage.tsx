import { useEffect, useState } from 'react';
import { useSession } from '@latchkey/client/react';

/** What the server fetched for the page while rendering it (with `bff.getAccessToken`), handed to the browser as is. */
export interface SsrData {
  /** `GET /api/me` as the server called it with the session's access token; null when it could not. */
  me: { sub: string; sid: string; name: string } | null;
}

/**
 * The server-rendered page (`GET /ssr`), the same component on the server and in the browser: the server renders it
 * inside `<SessionProvider initialSession>`, so its first HTML already greets the user, and the browser hydrates it
 * without a `loading` render and without a request. The browser's first API call is what fetches its token.
 */
export function SsrPage({ data }: { data: SsrData }) {
  const { status, user, logout, logoutAll, getAccessToken } = useSession();
  const [fromBrowser, setFromBrowser] = useState<string | null>(null);
  // Set once hydrated (effects never run on the server): tests wait for it before they click.
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);

  async function callApi() {
    const token = await getAccessToken();
    const res = await fetch('/api/me', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    setFromBrowser(res.ok ? ((await res.json()) as { name: string }).name : `HTTP ${res.status}`);
  }

  if (status !== 'authenticated') {
    return (
      <main data-testid="ssr-page" data-hydrated={hydrated || undefined}>
        <p data-testid="ssr-status">{status}</p>
        <a href="/">Sign in</a>
      </main>
    );
  }
  return (
    <main data-testid="ssr-page" data-hydrated={hydrated || undefined}>
      <h1 data-testid="ssr-greeting">Hello, {user!.name}</h1>
      <p>
        Status: <span data-testid="ssr-status">{status}</span>
      </p>
      <p>
        The server called /api/me with this session's token: <span data-testid="ssr-server-data">{data.me?.name ?? 'unavailable'}</span>
      </p>
      <p>
        <button data-testid="ssr-call-api" onClick={() => void callApi()}>
          Call /api/me from the browser
        </button>{' '}
        <span data-testid="ssr-browser-data">{fromBrowser ?? ''}</span>
      </p>
      <p>
        <button data-testid="ssr-logout" onClick={() => void logout()}>
          Sign out
        </button>{' '}
        <button data-testid="ssr-logout-all" onClick={() => void logoutAll()}>
          Sign out everywhere
        </button>{' '}
        <a href="/">The demo page</a>
      </p>
    </main>
  );
}
