// The names that documentation snippets use without defining them: the application's own objects, which every
// snippet would otherwise have to invent. docs/test/snippets.test.ts compiles each TypeScript snippet of the READMEs
// and docs/ with these in scope. Library functions are NOT here: a snippet that imports anything must import all it
// uses; a snippet without imports (a fragment) gets the public exports of the Latchkey packages and express.
import type { Express, RequestHandler } from 'express';
import type { JSX } from 'react';
import type { Root } from 'react-dom/client';
import type { Authenticate, AuthenticatedUser, Bff, BffOptions, SessionStore } from '@latchkey/bff';
import type { SessionClient } from '@latchkey/client';

declare global {
  /** The application's Express app. */
  const app: Express;
  /** What `createBff` returned. */
  const bff: Bff;
  /** The page's session client (`createSessionClient`). */
  const session: SessionClient;
  /** The page's React root (`createRoot(...)`). */
  const root: Root;
  /** The application's top-level component. */
  const App: () => JSX.Element;
  /** Any route handler of the application. */
  const handler: RequestHandler;
  /** The rest of the BFF's options, elsewhere in the application. */
  const options: BffOptions;
  const store: SessionStore;
  const secrets: string[];
  const authenticate: Authenticate;
  /** The application's user directory. */
  const users: {
    check(username: string, password: string): Promise<AuthenticatedUser | null>;
    findOrCreateByIdp(issuer: string, subject: string, email: unknown): Promise<AuthenticatedUser>;
  };
}
