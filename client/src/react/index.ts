'use client';
// The directive above marks a client module for React Server Components: Next.js App Router can import it.

import { createContext, createElement, useContext, useEffect, useMemo, useSyncExternalStore, type ReactNode } from 'react';
import type { InitialSession, SessionClient, SessionSnapshot } from '../core/types.js';

const SessionContext = createContext<SessionClient | null>(null);

export interface SessionProviderProps {
  /** Created once by the application (outside render); the provider starts it and never destroys it. */
  client: SessionClient;
  /**
   * The session the server rendered with (`bff.getSession(req)`, or null when signed out): the first render, on the
   * server and in the browser, is then already authenticated (or signed out), and no request is sent until the
   * first `getAccessToken()`. Omit it for a page rendered without a session (it starts as `loading`).
   */
  initialSession?: InitialSession | null;
  children?: ReactNode;
}

export function SessionProvider({ client, initialSession, children }: SessionProviderProps) {
  // During render, before any useSession reads the client: the browser's first snapshot is then the server's.
  const value = useMemo(() => (initialSession === undefined ? client : client.hydrate(initialSession)), [client]); // eslint-disable-line react-hooks/exhaustive-deps -- read once
  // In an effect, so rendering (also on the server) never touches the network or `window`.
  useEffect(() => client.start(), [client]);
  return createElement(SessionContext.Provider, { value }, children);
}

export function useSessionClient(): SessionClient {
  const client = useContext(SessionContext);
  // In development only (see core/options.ts); in production the first use of the missing client throws instead.
  if (!client && typeof process == 'object' && process.env.NODE_ENV != 'production') throw new Error('latchkey: no SessionProvider');
  return client!;
}

export type UseSessionResult = SessionSnapshot &
  Pick<SessionClient, 'login' | 'reauthenticate' | 'signIn' | 'logout' | 'logoutAll' | 'logoutOthers' | 'listSessions' | 'revokeSession' | 'getAccessToken'>;

export function useSession(): UseSessionResult {
  const client = useSessionClient();
  // The server snapshot is the client's own: loading, or the initial session the provider hydrated it with.
  const snapshot = useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
  // The client's methods are plain closures (no `this`): spread whole, which costs the bundle less than picking them.
  return useMemo(() => ({ ...client, ...snapshot }), [client, snapshot]);
}

export interface RequireSessionProps {
  children?: ReactNode;
  /** Shown when signed out (a sign-in form, a redirect). */
  fallback?: ReactNode;
  /** Shown while the session is being restored; defaults to nothing, so the sign-in form does not flash. */
  loading?: ReactNode;
}

export function RequireSession({ children, fallback = null, loading = null }: RequireSessionProps) {
  const { status } = useSession();
  return status == 'authenticated' ? children : status == 'loading' ? loading : fallback;
}
