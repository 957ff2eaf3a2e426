import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * The page's security headers. The access token lives in the page's memory, so script injection is the way to steal
 * it: scripts only from this origin (the Vite build has no inline script), no `<base>` to re-point relative URLs (the
 * axios adapter decides where the token goes by resolving them), no plugins, no framing. `no-referrer`: nothing in
 * the demo reads Referer (the BFF checks Origin), and an OIDC callback URL carries a one-time code that must not leak
 * to whatever the page links to next. HSTS is left to the deployment's TLS front (the demo serves plain http).
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'script-src-attr': ["'none'"],
        'style-src': ["'self'"],
        // The favicon is a data: URI.
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    strictTransportSecurity: false,
  });
}
