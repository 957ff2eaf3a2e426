import Link from 'next/link';
import { currentSession } from './session';
import { SessionPanel } from './session-panel';

// A server component: the greeting is in the first HTML, read from the cookie's session without rotating it.
export default async function Home() {
  const found = await currentSession();
  return (
    <main>
      <h1 data-testid="greeting">{found ? `Hello, ${found.user.name}` : 'Hello, guest'}</h1>
      <p>
        <Link href="/protected">The protected page</Link>
      </p>
      <SessionPanel />
    </main>
  );
}
