/** Paths of the BFF routes, relative to where the router is mounted (the demo mounts it at `/auth`). */
export const ROUTES = Object.freeze({
  login: '/login',
  refresh: '/refresh',
  logout: '/logout',
  logoutAll: '/logout-all',
  sessions: '/sessions',
  session: '/sessions/:id',
  jwks: '/jwks.json',
  /** Server-sent events: `session_ended` for this device, `devices_changed` for the user's device list. */
  events: '/events',
  /** Upstream OpenID Connect (top-level navigations and a server-to-server POST: no X-CSRF header, see the README). */
  oidcLogin: '/oidc/login',
  oidcCallback: '/oidc/callback',
  oidcBackchannelLogout: '/oidc/backchannel-logout',
} as const);

export type RouteName = keyof typeof ROUTES;

/** Header every cookie-authenticated request must carry (value `1`): a simple request cannot set it cross-site. */
export const CSRF_HEADER = 'X-CSRF';
export const CSRF_HEADER_VALUE = '1';

/** Default name of the session cookie. `__Host-` binds it to one origin, path `/`, Secure, no Domain. */
export const DEFAULT_COOKIE_NAME = '__Host-latchkey';
