import type { ReactNode } from 'react';
import { currentSession } from './session';
import { Providers } from './providers';

export const metadata = { title: 'Latchkey on Next.js' };
export const dynamic = 'force-dynamic';

export default async function RootLayout({ children }: { children: ReactNode }) {
  const found = await currentSession();
  return (
    <html lang="en">
      <body>
        <Providers initialSession={found && { user: found.user, session: found.session }}>{children}</Providers>
      </body>
    </html>
  );
}
