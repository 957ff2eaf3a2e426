import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { getBff } from '@/lib/bff';
import { currentSession } from '../session';
import { SessionPanel } from '../session-panel';

/** Server-side data fetching: the protected API, called with the session's own access token (never sent to the browser). */
async function fetchMe(): Promise<{ sub: string; sid: string } | null> {
  const requestHeaders = await headers();
  const token = await (await getBff()).getAccessToken(requestHeaders);
  if (token === null) return null;
  const res = await fetch(`http://127.0.0.1:${process.env.PORT ?? '3000'}/api/me`, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  return res.ok ? ((await res.json()) as { sub: string; sid: string }) : null;
}

export default async function Protected() {
  const found = await currentSession();
  // Signed out: redirected by the server, before any HTML.
  if (found === null) redirect('/');
  const me = await fetchMe();
  return (
    <main>
      <h1 data-testid="protected-greeting">Welcome back, {found.user.name}</h1>
      <p>
        The server called /api/me with this session&apos;s token: <span data-testid="server-data">{me ? `${me.sub} on ${me.sid}` : 'unavailable'}</span>
      </p>
      <SessionPanel />
    </main>
  );
}
