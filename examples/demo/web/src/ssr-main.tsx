import { StrictMode } from 'react';
import { hydrateRoot } from 'react-dom/client';
import { SessionProvider } from '@latchkey/client/react';
import { SSR_BOOT_ID, SSR_ROOT_ID, type SsrBoot } from '../../src/ssr/boot.js';
import { SsrPage } from '../../src/ssr/SsrPage.js';
import { sessionClient } from './session.js';

// The server-rendered page (/ssr): hydrated with the session and data the server rendered it with.
const boot = JSON.parse(document.getElementById(SSR_BOOT_ID)!.textContent!) as SsrBoot;
hydrateRoot(
  document.getElementById(SSR_ROOT_ID)!,
  <StrictMode>
    <SessionProvider client={sessionClient} initialSession={boot.session}>
      <SsrPage data={boot.data} />
    </SessionProvider>
  </StrictMode>,
);
