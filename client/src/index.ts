export { createSessionClient } from './core/session-client.js';
export { SessionError, type ClientErrorCode } from './core/session-error.js';
export type { EnvironmentEvent, SessionEnvironment } from './core/environment.js';
export type {
  InitialSession,
  ResolvedSessionClientOptions,
  SessionClient,
  SessionClientOptions,
  SessionEventMap,
  SessionSnapshot,
  SessionStatus,
  SignInOptions,
} from './core/types.js';
export type { LoginRequest, PublicSession, PublicUser, SessionListEntry, SignOutReason } from '@latchkey/shared';
