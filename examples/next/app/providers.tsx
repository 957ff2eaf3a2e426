'use client';

import type { ReactNode } from 'react';
import { createSessionClient, type InitialSession } from '@latchkey/client';
import { SessionProvider } from '@latchkey/client/react';

// One client per page, created outside React. On the server this module is loaded once for every request: the provider
// never changes the client there, each render gets a view with its own initial session.
const client = createSessionClient({ bffUrl: '/auth' });

export function Providers({ initialSession, children }: { initialSession: InitialSession | null; children: ReactNode }) {
  return (
    <SessionProvider client={client} initialSession={initialSession}>
      {children}
    </SessionProvider>
  );
}
