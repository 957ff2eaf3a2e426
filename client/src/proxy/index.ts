/**
 * `@latchkey/client/proxy`: proxy mode (docs/proxy.md). The page never holds a token: `createSessionClient({ mode:
 * 'proxy' })` and its axios adapter. The React binding (`@latchkey/client/react`) and `attachLive` take this client as
 * they take token mode's. A separate entry so that token-mode applications never ship it, and proxy-mode ones never
 * ship token handling (the refresh lock, the tab hand-over, expiry scheduling).
 */
export { createSessionClient, type ProxySessionClientOptions } from './session-client.js';
export { attachAxios } from './axios.js';
export { SessionError, type ClientErrorCode } from '../core/session-error.js';
export type { EnvironmentEvent, SessionEnvironment } from '../core/environment.js';
export type { SessionClient, SessionEventMap, SessionSnapshot, SessionStatus } from '../core/types.js';
