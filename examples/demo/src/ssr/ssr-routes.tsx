import { Router, type Request } from 'express';
import { renderToPipeableStream } from 'react-dom/server';
import { createSessionClient } from '@latchkey/client';
import { SessionProvider } from '@latchkey/client/react';
import type { Bff } from '@latchkey/bff';
import { bootJson, SSR_BOOT_ID, SSR_ROOT_ID, SSR_SCRIPT, type SsrBoot } from './boot.js';
import { SsrPage, type SsrData } from './SsrPage.js';

// One client for every server render: it is never started here, and <SessionProvider initialSession> never changes
// it on the server (each render gets a view of its own).
const serverClient = createSessionClient();

/**
 * `GET /ssr`: a protected page rendered by the server with React's `renderToPipeableStream`. The session comes from
 * `bff.getSession(req)` (read-only: rendering never rotates the cookie or sets one); a signed-out visit is redirected
 * to the demo page by the server, before any HTML. `fetchMe` is the page's server-side data fetching.
 */
export function ssrPages(bff: Bff, fetchMe: (req: Request) => Promise<SsrData['me']>): Router {
  const router = Router();
  router.get('/ssr', async (req, res, next) => {
    try {
      const found = await bff.getSession(req);
      if (found === null) {
        res.set('Cache-Control', 'no-store');
        res.redirect(303, '/');
        return;
      }
      const boot: SsrBoot = { session: { user: found.user, session: found.session }, data: { me: await fetchMe(req) } };
      const { pipe } = renderToPipeableStream(
        <html lang="en">
          <head>
            <meta charSet="utf-8" />
            <title>Latchkey: server-rendered page</title>
          </head>
          <body>
            <div id={SSR_ROOT_ID}>
              <SessionProvider client={serverClient} initialSession={boot.session}>
                <SsrPage data={boot.data} />
              </SessionProvider>
            </div>
            <script type="application/json" id={SSR_BOOT_ID} dangerouslySetInnerHTML={{ __html: bootJson(boot) }} />
          </body>
        </html>,
        {
          bootstrapModules: [SSR_SCRIPT],
          onShellReady() {
            // The user's own page: never stored by a shared cache.
            res.status(200).set('Cache-Control', 'private, no-store').type('html');
            pipe(res);
          },
          onShellError: next,
        },
      );
    } catch (error) {
      next(error);
    }
  });
  return router;
}
