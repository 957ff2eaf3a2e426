import type { InitialSession } from '@latchkey/client';
import type { SsrData } from './SsrPage.js';

/** The element that holds what the server hands the browser: a JSON data block (never executed, so the CSP allows it). */
export const SSR_BOOT_ID = 'ssr-boot';
/** Where the page is rendered, and hydrated. */
export const SSR_ROOT_ID = 'ssr-root';
/** The browser entry (examples/demo/web/src/ssr-main.tsx), built under a fixed name. */
export const SSR_SCRIPT = '/assets/ssr.js';

export interface SsrBoot {
  session: InitialSession | null;
  data: SsrData;
}

/** JSON safe inside a `<script>` element: no `<` can close it. */
export const bootJson = (boot: SsrBoot): string => JSON.stringify(boot).replace(/</g, '\\u003c');
