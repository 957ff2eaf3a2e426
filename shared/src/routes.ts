/**
 * Paths of the BFF routes the browser calls, relative to where the router is mounted (the demo mounts it at `/auth`).
 * Kept apart from the server-only ones so a browser bundle carries only these.
 */
export const BROWSER_ROUTES = /* @__PURE__ */ Object.freeze({
  login: '/login',
  refresh: '/refresh',
  logout: '/logout',
  logoutAll: '/logout-all',
  /** Every device of the user but this one. */
  logoutOthers: '/logout-others',
  /** Step-up: the password again, on this device session (a fresh `auth_time`, the same session). */
  reauthenticate: '/reauthenticate',
  sessions: '/sessions',
  session: '/sessions/:id',
  /** Server-sent events: `session_ended` for this device, `devices_changed` for the user's device list. */
  events: '/events',
  /** Upstream OpenID Connect sign-in: a top-level navigation (no X-CSRF header, see the README). */
  oidcLogin: '/oidc/login',
} as const);

/**
 * Every BFF route: the browser's, plus those only servers and IdPs call. Spelled out rather than spread from
 * BROWSER_ROUTES: a spread keeps this object alive in browser bundles that never use it.
 */
export const ROUTES = /* @__PURE__ */ Object.freeze({
  login: '/login',
  refresh: '/refresh',
  logout: '/logout',
  logoutAll: '/logout-all',
  logoutOthers: '/logout-others',
  reauthenticate: '/reauthenticate',
  sessions: '/sessions',
  session: '/sessions/:id',
  /** The signed-in user and device session, no token: proxy mode's source of truth. */
  currentSession: '/session',
  events: '/events',
  oidcLogin: '/oidc/login',
  jwks: '/jwks.json',
  /** The IdP's redirect back, and its server-to-server back-channel logout POST. */
  oidcCallback: '/oidc/callback',
  oidcBackchannelLogout: '/oidc/backchannel-logout',
  /** RP-initiated logout: the `redirectTo` of POST /logout, a 303 to the IdP's end-session endpoint (the page never builds it). */
  oidcLogout: '/oidc/logout',
  /** RFC 7662 introspection and RFC 7009 revocation for resource servers (client-authenticated, form-encoded). */
  introspect: '/introspect',
  revoke: '/revoke',
  /** Probes for load balancers and orchestrators: liveness, and readiness to decide guarded requests (docs/operations.md). */
  healthz: '/healthz',
  readyz: '/readyz',
} as const);

/** Compile-time check: every browser route is in ROUTES with the same path. */
type BrowserRoutesWithin<T extends typeof BROWSER_ROUTES> = T;
export type AllRoutes = BrowserRoutesWithin<typeof ROUTES>;

export type RouteName = keyof typeof ROUTES;

/** Header every cookie-authenticated request must carry (value `1`): a simple request cannot set it cross-site. */
export const CSRF_HEADER = 'X-CSRF';
export const CSRF_HEADER_VALUE = '1';

/** Default name of the session cookie. `__Host-` binds it to one origin, path `/`, Secure, no Domain. */
export const DEFAULT_COOKIE_NAME = '__Host-latchkey';
